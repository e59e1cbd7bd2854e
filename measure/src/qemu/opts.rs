//! QEMU's option syntax (QemuOpts, util/qemu-option.c): `[implied,]key=value,key=value`, where a
//! doubled comma is a literal comma, and the JSON form `-object '{"qom-type": …}'`.

use super::QemuError;

/// One option's parsed value: the implied (first, key-less) value and the key=value pairs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opts {
    pub implied: Option<String>,
    pub pairs: Vec<(String, String)>,
}

/// Splits on single commas; ",," is a literal comma (QEMU's escaping).
fn split(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                if let Some(l) = out.last_mut() {
                    l.push(',');
                }
            } else {
                out.push(String::new());
            }
        } else if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out
}

/// Writes a value so that QEMU reads it back verbatim (commas doubled).
pub fn escape(v: &str) -> String {
    v.replace(',', ",,")
}

impl Opts {
    /// Parses `s` for option `opt`; `implied` names the key a leading bare value stands for.
    pub fn parse(opt: &str, s: &str, implied: Option<&str>) -> Result<Opts, QemuError> {
        if s.trim_start().starts_with('{') {
            return Self::parse_json(opt, s);
        }
        let mut o = Opts::default();
        for (i, part) in split(s).into_iter().enumerate() {
            match part.split_once('=') {
                Some((k, v)) => {
                    if o.pairs.iter().any(|(x, _)| x == k) {
                        return Err(QemuError::Syntax(format!("{opt} {s}: {k} is given twice")));
                    }
                    o.pairs.push((k.to_owned(), v.to_owned()));
                }
                None if i == 0 && implied.is_some() => o.implied = Some(part),
                None if part.is_empty() => return Err(QemuError::Syntax(format!("{opt} {s}: empty option"))),
                // A bare flag: QEMU reads `foo` as foo=on (and `nofoo` as foo=off, deprecated).
                None => o.pairs.push((part, "on".into())),
            }
        }
        if let (Some(key), None) = (implied, &o.implied)
            && let Some(i) = o.pairs.iter().position(|(k, _)| k == key)
        {
            o.implied = Some(o.pairs.remove(i).1);
        }
        Ok(o)
    }

    fn parse_json(opt: &str, s: &str) -> Result<Opts, QemuError> {
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| QemuError::Syntax(format!("{opt} {s}: not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| QemuError::Syntax(format!("{opt} {s}: expected a JSON object")))?;
        let mut o = Opts::default();
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(QemuError::Unsupported(format!("{opt}: {k} = {other}: structured values are not modelled"))),
            };
            if k == "qom-type" {
                o.implied = Some(text);
            } else {
                o.pairs.push((k.clone(), text));
            }
        }
        Ok(o)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }
}

/// QEMU's booleans: on/off, yes/no, true/false.
pub fn parse_bool(opt: &str, key: &str, v: &str) -> Result<bool, QemuError> {
    match v {
        "on" | "yes" | "true" | "y" => Ok(true),
        "off" | "no" | "false" | "n" => Ok(false),
        _ => Err(QemuError::Syntax(format!("{opt}: {key}={v}: expected on or off"))),
    }
}

/// QEMU's integers: decimal or 0x hex.
pub fn parse_u64(opt: &str, key: &str, v: &str) -> Result<u64, QemuError> {
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.map_err(|_| QemuError::Syntax(format!("{opt}: {key}={v}: expected an integer")))
}

/// QEMU's sizes: bytes, or with a K/M/G/T suffix (`-m` defaults to MiB without one).
pub fn parse_size_mib(opt: &str, v: &str, default_unit_mib: bool) -> Result<u64, QemuError> {
    let bad = || QemuError::Syntax(format!("{opt} {v}: expected a size (2048, 2G, 512M)"));
    let t = v.trim();
    let (num, mult_bytes): (&str, u64) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        Some('B') => (&t[..t.len() - 1], 1),
        _ if default_unit_mib => (t, 1 << 20),
        _ => (t, 1),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok(n.checked_mul(mult_bytes).ok_or_else(bad)? >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_keys_doubled_commas_and_flags() {
        let o = Opts::parse("-object", "sev-snp-guest,id=sev0,policy=0x30000,kernel-hashes", Some("qom-type")).unwrap();
        assert_eq!(o.implied.as_deref(), Some("sev-snp-guest"));
        assert_eq!(o.get("policy"), Some("0x30000"));
        assert_eq!(o.get("kernel-hashes"), Some("on"));
        let o = Opts::parse("-drive", "file=a,,b.fd,if=pflash", None).unwrap();
        assert_eq!(o.get("file"), Some("a,b.fd"));
        assert_eq!(escape("a,b"), "a,,b");
        let o = Opts::parse("-machine", "type=q35,memory-backend=ram1", Some("type")).unwrap();
        assert_eq!(o.implied.as_deref(), Some("q35"));
        assert!(Opts::parse("-machine", "q35,accel=kvm,accel=tcg", Some("type")).is_err());
    }

    #[test]
    fn json_objects() {
        let o =
            Opts::parse("-object", r#"{"qom-type":"sev-snp-guest","id":"sev0","policy":196608,"kernel-hashes":true}"#, Some("qom-type"))
                .unwrap();
        assert_eq!((o.implied.as_deref(), o.get("policy"), o.get("kernel-hashes")), (Some("sev-snp-guest"), Some("196608"), Some("on")));
        assert!(Opts::parse("-object", r#"{"qom-type":"tdx-guest","quote-generation-socket":{"type":"unix"}}"#, Some("qom-type")).is_err());
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(parse_size_mib("-m", "2G", true).unwrap(), 2048);
        assert_eq!(parse_size_mib("-m", "512", true).unwrap(), 512);
        assert_eq!(parse_size_mib("size", "1073741824", false).unwrap(), 1024);
        assert!(parse_size_mib("-m", "lots", true).is_err());
        assert!(parse_size_mib("-m", "99999999999999T", true).is_err());
        assert_eq!(parse_u64("-object", "policy", "0x30000").unwrap(), 0x30000);
        assert!(parse_bool("-object", "x", "maybe").is_err());
    }
}
