//! A minimal JSON value and printer for `gen-image --describe` (no serde: this crate has no dependencies).

use std::fmt::Write;

use crate::image::Built;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    pub fn opt(v: Option<impl Into<u64>>) -> Json {
        v.map_or(Json::Null, |v| Json::Num(v.into()))
    }

    /// Pretty-printed with two-space indentation.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => write!(out, "{n}").expect("write to String"),
            Json::Str(s) => quote(out, s),
            Json::Arr(v) if v.is_empty() => out.push_str("[]"),
            Json::Obj(v) if v.is_empty() => out.push_str("{}"),
            Json::Arr(v) => {
                out.push_str("[\n");
                for (i, x) in v.iter().enumerate() {
                    pad(out, depth + 1);
                    x.write(out, depth + 1);
                    out.push_str(if i + 1 < v.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push(']');
            }
            Json::Obj(v) => {
                out.push_str("{\n");
                for (i, (k, x)) in v.iter().enumerate() {
                    pad(out, depth + 1);
                    quote(out, k);
                    out.push_str(": ");
                    x.write(out, depth + 1);
                    out.push_str(if i + 1 < v.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push('}');
            }
        }
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).expect("write to String"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        write!(s, "{x:02x}").expect("write to String");
        s
    })
}

impl Built {
    /// The layout as JSON: sizes, offsets and every declared value, so that tests in other languages
    /// can compare a tool's findings (or a peer's) with what was built.
    pub fn describe(&self) -> Json {
        let s = &self.spec;
        let range = |r: Option<crate::image::GpaRange>| {
            r.map_or(Json::Null, |r| Json::Obj(vec![("gpa", Json::Num(r.gpa.into())), ("size", Json::Num(r.size.into()))]))
        };
        let entries = self
            .entries
            .iter()
            .map(|e| {
                Json::Obj(vec![
                    ("guid", Json::Str(e.guid.to_string())),
                    ("name", Json::Str(e.name.into())),
                    ("data_offset", Json::Num(e.data_offset as u64)),
                    ("length", Json::Num(e.entry_len() as u64)),
                    ("data", Json::Str(self.bytes.get(e.data_offset..e.data_offset + e.data_len).map(hex).unwrap_or_default())),
                ])
            })
            .collect();
        let sev = s.sev_metadata.as_ref().map_or(Json::Null, |items| {
            Json::Obj(vec![
                ("offset", Json::opt(self.sev_metadata_offset.map(|v| v as u64))),
                (
                    "items",
                    Json::Arr(
                        items
                            .iter()
                            .map(|i| {
                                Json::Obj(vec![
                                    ("gpa", Json::Num(i.gpa.into())),
                                    ("size", Json::Num(i.size.into())),
                                    ("kind", Json::Num(i.kind.0.into())),
                                    ("kind_name", Json::Str(i.kind.name().into())),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        });
        let tdvf = s.tdvf.as_ref().map_or(Json::Null, |sections| {
            Json::Obj(vec![
                ("offset", Json::opt(self.tdvf_offset.map(|v| v as u64))),
                ("legacy_pointer", Json::Bool(s.tdvf_legacy_pointer)),
                (
                    "sections",
                    Json::Arr(
                        sections
                            .iter()
                            .map(|x| {
                                Json::Obj(vec![
                                    ("data_offset", Json::Num(x.data_offset.into())),
                                    ("raw_size", Json::Num(x.raw_size.into())),
                                    ("gpa", Json::Num(x.gpa)),
                                    ("mem_size", Json::Num(x.mem_size)),
                                    ("type", Json::Num(x.kind.0.into())),
                                    ("type_name", Json::Str(x.kind.name().into())),
                                    ("attributes", Json::Num(x.attributes.into())),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        });
        Json::Obj(vec![
            ("size", Json::Num(self.bytes.len() as u64)),
            ("seed", Json::Num(s.seed)),
            ("gpa_base", Json::Num(self.gpa_base())),
            (
                "footer",
                Json::Obj(vec![
                    ("offset", Json::opt(self.footer_offset.map(|v| v as u64))),
                    ("table_start", Json::opt(self.footer_table_start.map(|v| v as u64))),
                    ("table_size", Json::Num(self.footer_table_size as u64)),
                    ("entries", Json::Arr(entries)),
                ]),
            ),
            ("reset_eip", Json::opt(s.reset_eip)),
            ("hashes_table", range(s.hashes_table)),
            ("secret_block", range(s.secret_block)),
            ("svsm_entry_offset", Json::opt(s.svsm_entry_offset)),
            ("sev_metadata", sev),
            ("tdvf", tdvf),
            ("corruptions", Json::Arr(self.corruptions.iter().map(|c| Json::Str(c.clone())).collect())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_values_and_escapes() {
        let j = Json::Obj(vec![
            ("a", Json::Arr(vec![Json::Num(1), Json::Null])),
            ("b", Json::Str("q\"\\\n".into())),
            ("c", Json::Obj(vec![])),
            ("d", Json::Bool(false)),
        ]);
        assert_eq!(j.render(), "{\n  \"a\": [\n    1,\n    null\n  ],\n  \"b\": \"q\\\"\\\\\\u000a\",\n  \"c\": {},\n  \"d\": false\n}");
    }
}
