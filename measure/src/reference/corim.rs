//! `--format corim`: an unsigned CoRIM (`#6.501`) with one CoMID following the launch-measurement
//! profile ([`super::corim_defs`]). CBOR through `ciborium`'s value model; keys are emitted in
//! ascending order (RFC 8949 deterministic encoding, as the igvm crate's encoder does).
//!
//! A set of shapes is one reference triple per distinct value: CoRIM matches a triple when *all* its
//! measurements match and compares *all* digests of one algorithm in a list, so several acceptable
//! values must be several triples (the profile's single triple is the one-entry case, which this
//! encoder reproduces byte for byte without the shapes extension). The CES triple's series maps each
//! value to the SVN. Each entry's launch shape travels in a private-use corim-map key.

use std::collections::BTreeMap;

use std::collections::HashMap;

use ciborium::Value;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::corim_defs::{self as defs, ProfilePlatform, comid, corim_map, env, tag, triples};
use super::model::{Entry, Metadata, Platform, ReferenceSet, Shape, Values};
use crate::hash::Sha384Digest;

/// Why a CoRIM could not be written or read. Read errors name the CBOR path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorimError {
    #[error("a CoRIM of this profile holds one platform; the set mixes SNP and TDX entries (write one file per platform)")]
    MixedPlatforms,
    #[error("the set is empty")]
    Empty,
    #[error("entry {index} ({shape}) has no {what} value")]
    MissingValue { index: usize, shape: String, what: &'static str },
    #[error("CBOR encoding failed: {0}")]
    Encode(String),
    #[error("not CBOR: {0}")]
    Cbor(String),
    #[error("{0} bytes after the CBOR item")]
    Trailing(usize),
    #[error("a signed CoRIM (COSE_Sign1, #6.18): check its signature with the signer's key (--reference-key)")]
    Signed,
    #[error("{path}: {msg}")]
    Field { path: String, msg: String },
}

fn field(path: impl Into<String>, msg: impl Into<String>) -> CorimError {
    CorimError::Field { path: path.into(), msg: msg.into() }
}

/// What to put beside the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorimOptions {
    /// The SVN the CES triple endorses.
    pub svn: u64,
    /// Add each entry's launch shape (the private-use corim-map key). Without it and with one
    /// entry, the output is the igvm crate's launch-measurement CoRIM.
    pub shapes: bool,
}

impl Default for CorimOptions {
    fn default() -> Self {
        CorimOptions { svn: 1, shapes: true }
    }
}

// The encoder streams through serde (ciborium's serializer) rather than building a `Value` tree:
// a 1,536-entry matrix is ~20,000 CBOR items, and allocating each was most of the encoding cost.

/// A CBOR byte string.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// A map with integer keys, in the order given (ascending, for deterministic encoding).
struct IntMap<'a>(&'a [(i64, &'a dyn erased::Item)]);

impl Serialize for IntMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, &erased::Ser(*v))?;
        }
        m.end()
    }
}

/// Object-safe serialisation of the few item types the CoRIM holds.
mod erased {
    use serde::{Serialize, Serializer};

    pub trait Item {
        fn ser(&self) -> Value<'_>;
    }

    pub enum Value<'a> {
        Text(&'a str),
        Map(&'a super::IntMap<'a>),
        Digests(&'a [u8; 48]),
        Svn(u64),
    }

    pub struct Ser<'a>(pub &'a dyn Item);

    impl Serialize for Ser<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0.ser() {
                Value::Text(t) => s.serialize_str(t),
                Value::Map(m) => m.serialize(s),
                Value::Digests(d) => [(super::defs::ALG_SHA384, super::Bytes(d))].serialize(s),
                Value::Svn(v) => ciborium::tag::Required::<u64, { super::tag::SVN }>(v).serialize(s),
            }
        }
    }

    impl Item for &str {
        fn ser(&self) -> Value<'_> {
            Value::Text(self)
        }
    }
}

impl erased::Item for IntMap<'_> {
    fn ser(&self) -> erased::Value<'_> {
        erased::Value::Map(self)
    }
}

struct DigestItem<'a>(&'a Sha384Digest);

impl erased::Item for DigestItem<'_> {
    fn ser(&self) -> erased::Value<'_> {
        erased::Value::Digests(self.0)
    }
}

struct SvnItem(u64);

impl erased::Item for SvnItem {
    fn ser(&self) -> erased::Value<'_> {
        erased::Value::Svn(self.0)
    }
}

/// `{ class: { vendor, model } }`.
struct Env<'a>(&'a ProfilePlatform);

impl Serialize for Env<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (vendor, model) = (self.0.vendor, self.0.model);
        let class = IntMap(&[(env::VENDOR, &vendor), (env::MODEL, &model)]);
        IntMap(&[(env::CLASS, &class)]).serialize(s)
    }
}

/// `{ mkey: text, mval: { digests: [[7, bytes]] } }`.
struct Measurement<'a>(&'a str, &'a Sha384Digest);

impl Serialize for Measurement<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let digests = DigestItem(self.1);
        let mval = IntMap(&[(env::DIGESTS, &digests)]);
        let mkey = self.0;
        IntMap(&[(env::MKEY, &mkey), (env::MVAL, &mval)]).serialize(s)
    }
}

/// The measurement-maps of one distinct value: the launch measurement, then the RTMRs it has.
struct Measurements<'a>(&'a ProfilePlatform, &'a Values);

impl Serialize for Measurements<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rtmrs = self.1.rtmrs().iter().filter(|r| r.is_some()).count();
        let launch = self.1.launch(self.0.platform);
        let mut seq = s.serialize_seq(Some(usize::from(launch.is_some()) + rtmrs))?;
        if let Some(d) = launch {
            seq.serialize_element(&Measurement(self.0.mkey, d))?;
        }
        for (key, r) in defs::RTMR_KEYS.iter().zip(self.1.rtmrs()) {
            if let Some(r) = r {
                seq.serialize_element(&Measurement(key, r))?;
            }
        }
        seq.end()
    }
}

/// The CoMID: tag identity, reference triples, the CES triple.
struct Comid<'a> {
    p: &'a ProfilePlatform,
    distinct: &'a [&'a Values],
    svn: u64,
}

struct ReferenceTriples<'a>(&'a Comid<'a>);

impl Serialize for ReferenceTriples<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(Some(c.distinct.len()))?;
        for v in c.distinct {
            seq.serialize_element(&(Env(c.p), Measurements(c.p, v)))?;
        }
        seq.end()
    }
}

/// `[[env, []], [ [selection, [ { mval: { svn: #6.552(svn) } } ]] ... ]]`: the CES triple, one series
/// record per value.
struct Ces<'a>(&'a Comid<'a>);

impl Serialize for Ces<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Series<'a>(&'a Comid<'a>);
        impl Serialize for Series<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let c = self.0;
                let svn = SvnItem(c.svn);
                let mval = IntMap(&[(env::SVN, &svn)]);
                let addition = IntMap(&[(env::MVAL, &mval)]);
                let mut seq = s.serialize_seq(Some(c.distinct.len()))?;
                for v in c.distinct {
                    seq.serialize_element(&(Measurements(c.p, v), [&addition]))?;
                }
                seq.end()
            }
        }
        let empty: [u8; 0] = [];
        ((Env(self.0.p), empty), Series(self.0)).serialize(s)
    }
}

impl Serialize for Comid<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tag_id = defs::tag_id(self.p);
        let mut m = s.serialize_map(Some(2))?;
        let tid = tag_id.as_str();
        m.serialize_entry(&comid::TAG_IDENTITY, &IntMap(&[(comid::TAG_ID, &tid)]))?;
        struct Triples<'a>(&'a Comid<'a>);
        impl Serialize for Triples<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry(&triples::REFERENCE, &ReferenceTriples(self.0))?;
                m.serialize_entry(&triples::CONDITIONAL_ENDORSEMENT_SERIES, &[Ces(self.0)])?;
                m.end()
            }
        }
        m.serialize_entry(&comid::TRIPLES, &Triples(self))?;
        m.end()
    }
}

#[derive(serde::Serialize)]
struct ShapeRef<'a> {
    triple: u64,
    parameters: &'a Shape,
    inputs: &'a BTreeMap<String, String>,
}

struct Top<'a> {
    p: &'a ProfilePlatform,
    comid: Vec<u8>,
    shapes: Option<Vec<ShapeRef<'a>>>,
}

impl Serialize for Top<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3 + usize::from(self.shapes.is_some())))?;
        m.serialize_entry(&corim_map::ID, &defs::corim_id(self.p))?;
        m.serialize_entry(&corim_map::TAGS, &[ciborium::tag::Required::<Bytes<'_>, { tag::COMID }>(Bytes(&self.comid))])?;
        m.serialize_entry(&corim_map::PROFILE, &ciborium::tag::Required::<&str, { tag::URI }>(defs::PROFILE_URI))?;
        if let Some(shapes) = &self.shapes {
            m.serialize_entry(&corim_map::PRELAUNCH_SHAPES, shapes)?;
        }
        m.end()
    }
}

fn to_cbor<T: Serialize>(v: &T, size_hint: usize) -> Result<Vec<u8>, CorimError> {
    let mut out = Vec::with_capacity(size_hint);
    ciborium::into_writer(v, &mut out).map_err(|e| CorimError::Encode(e.to_string()))?;
    Ok(out)
}

#[derive(serde::Deserialize)]
struct ShapeRecord {
    triple: u64,
    parameters: Shape,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
}

/// The tagged (`#6.501`) CoRIM of `set`.
pub fn encode(set: &ReferenceSet, opts: CorimOptions) -> Result<Vec<u8>, CorimError> {
    if set.entries.is_empty() {
        return Err(CorimError::Empty);
    }
    let platform = set.platform().ok_or(CorimError::MixedPlatforms)?;
    let p = defs::profile_platform(platform);
    // One triple per distinct value; each entry records the triple it matches.
    let mut distinct: Vec<&Values> = Vec::new();
    let mut index_of: HashMap<&Values, usize> = HashMap::with_capacity(set.entries.len());
    let mut shapes = Vec::with_capacity(if opts.shapes { set.entries.len() } else { 0 });
    for (index, e) in set.entries.iter().enumerate() {
        if e.values.launch(platform).is_none() {
            return Err(CorimError::MissingValue { index, shape: e.shape.describe(), what: p.mkey });
        }
        let t = *index_of.entry(&e.values).or_insert_with(|| {
            distinct.push(&e.values);
            distinct.len() - 1
        });
        if opts.shapes {
            shapes.push(ShapeRef { triple: t as u64, parameters: &e.shape, inputs: &e.inputs });
        }
    }
    let comid = to_cbor(&Comid { p, distinct: &distinct, svn: opts.svn }, distinct.len() * 200)?;
    let top = Top { p, comid, shapes: opts.shapes.then_some(shapes) };
    to_cbor(&ciborium::tag::Required::<_, { tag::CORIM }>(top), set.entries.len() * 400)
}

/// Parses one CBOR item that must fill `bytes`.
pub(crate) fn parse_cbor(bytes: &[u8]) -> Result<Value, CorimError> {
    let mut rd = bytes;
    let v: Value = ciborium::from_reader(&mut rd).map_err(|e| CorimError::Cbor(e.to_string()))?;
    if !rd.is_empty() {
        return Err(CorimError::Trailing(rd.len()));
    }
    Ok(v)
}

/// Looks up integer key `k` in a CBOR map.
fn get(m: &[(Value, Value)], k: i64) -> Option<&Value> {
    m.iter().find(|(key, _)| key.as_integer().is_some_and(|i| i128::from(i) == i128::from(k))).map(|(_, v)| v)
}

fn as_map<'v>(v: &'v Value, path: &str) -> Result<&'v [(Value, Value)], CorimError> {
    v.as_map().map(|m| m.as_slice()).ok_or_else(|| field(path, format!("expected a map, found {}", kind(v))))
}

fn as_array<'v>(v: &'v Value, path: &str) -> Result<&'v [Value], CorimError> {
    v.as_array().map(|a| a.as_slice()).ok_or_else(|| field(path, format!("expected an array, found {}", kind(v))))
}

fn as_text<'v>(v: &'v Value, path: &str) -> Result<&'v str, CorimError> {
    v.as_text().ok_or_else(|| field(path, format!("expected a text string, found {}", kind(v))))
}

fn required<'v>(m: &'v [(Value, Value)], k: i64, path: &str, name: &str) -> Result<&'v Value, CorimError> {
    get(m, k).ok_or_else(|| field(path, format!("key {k} ({name}) is missing")))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "an integer",
        Value::Bytes(_) => "a byte string",
        Value::Float(_) => "a float",
        Value::Text(_) => "a text string",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Tag(..) => "a tagged item",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "an unknown item",
    }
}

/// Reads a CoRIM of the launch-measurement profile (tagged `#6.501` or a bare corim-map).
pub fn decode(bytes: &[u8]) -> Result<ReferenceSet, CorimError> {
    let v = parse_cbor(bytes)?;
    decode_value(&v)
}

pub(crate) fn decode_value(v: &Value) -> Result<ReferenceSet, CorimError> {
    let body = match v {
        Value::Tag(tag::CORIM, inner) => inner.as_ref(),
        Value::Tag(tag::COSE_SIGN1, _) => return Err(CorimError::Signed),
        Value::Tag(t, _) => return Err(field("CoRIM", format!("tag #6.{t}; expected #6.501 (corim-map)"))),
        other => other,
    };
    let top = as_map(body, "corim-map")?;
    let profile = match get(top, corim_map::PROFILE) {
        None => return Err(field("corim-map", format!("no profile (key 3); documents of {} must name it", defs::PROFILE_URI))),
        Some(Value::Tag(tag::URI, u)) => as_text(u, "corim-map profile")?,
        Some(other) => as_text(other, "corim-map profile")?,
    };
    if profile != defs::PROFILE_URI {
        return Err(field("corim-map profile", format!("{profile:?}; expected {:?}", defs::PROFILE_URI)));
    }
    let tags = as_array(required(top, corim_map::TAGS, "corim-map", "tags")?, "corim-map tags")?;
    if tags.len() != 1 {
        return Err(field("corim-map tags", format!("{} tags; the profile carries exactly one CoMID", tags.len())));
    }
    let comid_bytes = match &tags[0] {
        Value::Tag(tag::COMID, b) => b.as_bytes().ok_or_else(|| field("corim-map tags[0]", "#6.506 must wrap a byte string"))?,
        other => return Err(field("corim-map tags[0]", format!("expected a CoMID (#6.506), found {}", kind(other)))),
    };
    let comid_v = parse_cbor(comid_bytes).map_err(|e| field("CoMID", e.to_string()))?;
    let cm = as_map(&comid_v, "CoMID")?;
    let ident = as_map(required(cm, comid::TAG_IDENTITY, "CoMID", "tag-identity")?, "CoMID tag-identity")?;
    let tag_id = as_text(required(ident, comid::TAG_ID, "CoMID tag-identity", "tag-id")?, "CoMID tag-id")?;
    let tm = as_map(required(cm, comid::TRIPLES, "CoMID", "triples")?, "CoMID triples")?;
    let refs = as_array(required(tm, triples::REFERENCE, "CoMID triples", "reference-triples")?, "reference-triples")?;
    if refs.is_empty() {
        return Err(field("reference-triples", "empty"));
    }
    let mut platform: Option<&ProfilePlatform> = None;
    let mut values = Vec::with_capacity(refs.len());
    for (i, t) in refs.iter().enumerate() {
        let path = format!("reference-triples[{i}]");
        let rec = as_array(t, &path)?;
        let [envv, ms] = rec else { return Err(field(&path, format!("{} items; expected [environment, measurements]", rec.len()))) };
        let p = platform_of(envv, &format!("{path} environment"))?;
        if platform.is_some_and(|q| q != p) {
            return Err(field(&path, "the triples name different platforms"));
        }
        platform = Some(p);
        values.push(read_values(p, as_array(ms, &format!("{path} measurements"))?, &path)?);
    }
    let p = platform.ok_or_else(|| field("reference-triples", "empty"))?;
    if !tag_id.eq_ignore_ascii_case(&defs::tag_id(p)) {
        return Err(field("CoMID tag-id", format!("{tag_id:?}; the profile requires {:?} for {}/{}", defs::tag_id(p), p.vendor, p.model)));
    }
    let svn = read_svn(tm)?;
    let mut entries: Vec<Entry> = Vec::new();
    match get(top, corim_map::PRELAUNCH_SHAPES) {
        Some(s) => {
            let recs = as_array(s, "corim-map prelaunch shapes")?;
            for (i, r) in recs.iter().enumerate() {
                let path = format!("corim-map prelaunch shapes[{i}]");
                let rec: ShapeRecord = r.deserialized().map_err(|e| field(&path, e.to_string()))?;
                let vals = usize::try_from(rec.triple)
                    .ok()
                    .and_then(|t| values.get(t))
                    .ok_or_else(|| field(&path, format!("triple {} of {}", rec.triple, values.len())))?;
                entries.push(Entry { platform: p.platform, shape: rec.parameters, values: vals.clone(), inputs: rec.inputs });
            }
        }
        None => entries.extend(values.into_iter().map(|values| Entry {
            platform: p.platform,
            shape: Shape::default(),
            values,
            inputs: BTreeMap::new(),
        })),
    }
    Ok(ReferenceSet { metadata: Metadata { svn: Some(svn), ..Metadata::default() }, entries })
}

fn platform_of(v: &Value, path: &str) -> Result<&'static ProfilePlatform, CorimError> {
    let em = as_map(v, path)?;
    let class = as_map(required(em, env::CLASS, path, "class")?, &format!("{path} class"))?;
    let vendor = as_text(required(class, env::VENDOR, path, "vendor")?, &format!("{path} vendor"))?;
    let model = as_text(required(class, env::MODEL, path, "model")?, &format!("{path} model"))?;
    defs::PLATFORMS
        .iter()
        .find(|p| p.vendor == vendor && p.model == model)
        .ok_or_else(|| field(path, format!("vendor {vendor:?} model {model:?}; the profile registers AMD/SEV-SNP and Intel/TDX")))
}

fn read_values(p: &ProfilePlatform, ms: &[Value], path: &str) -> Result<Values, CorimError> {
    let mut values = Values::default();
    for (j, m) in ms.iter().enumerate() {
        let mp = format!("{path} measurements[{j}]");
        let mm = as_map(m, &mp)?;
        let mkey = as_text(required(mm, env::MKEY, &mp, "mkey")?, &format!("{mp} mkey"))?;
        let mval = as_map(required(mm, env::MVAL, &mp, "mval")?, &format!("{mp} mval"))?;
        let digests = as_array(required(mval, env::DIGESTS, &mp, "digests")?, &format!("{mp} digests"))?;
        let [d] = digests else { return Err(field(&mp, format!("{} digests; the profile has exactly one [alg, value]", digests.len()))) };
        let pair = as_array(d, &format!("{mp} digests[0]"))?;
        let [alg, val] = pair else { return Err(field(&mp, "a digest is [alg, value]")) };
        if alg.as_integer().map(i128::from) != Some(i128::from(defs::ALG_SHA384)) {
            return Err(field(&mp, format!("digest algorithm {alg:?}; the profile uses SHA-384 (7) for {}", p.model)));
        }
        let bytes = val.as_bytes().ok_or_else(|| field(&mp, "the digest value is not a byte string"))?;
        let d: Sha384Digest = bytes.as_slice().try_into().map_err(|_| field(&mp, format!("{}-byte digest; SHA-384 is 48", bytes.len())))?;
        let slot = match (p.platform, mkey) {
            (Platform::Snp, "MEASUREMENT") => &mut values.measurement,
            (Platform::Tdx, "MRTD") => &mut values.mrtd,
            (Platform::Tdx, "RTMR0") => &mut values.rtmr0,
            (Platform::Tdx, "RTMR1") => &mut values.rtmr1,
            (Platform::Tdx, "RTMR2") => &mut values.rtmr2,
            _ => return Err(field(&mp, format!("measurement key {mkey:?} is not defined for {}/{}", p.vendor, p.model))),
        };
        if slot.replace(d).is_some() {
            return Err(field(&mp, format!("{mkey} appears twice in one triple")));
        }
    }
    if values.launch(p.platform).is_none() {
        return Err(field(path, format!("no {} measurement", p.mkey)));
    }
    Ok(values)
}

/// The SVN of the CES triple (the profile requires one, as an exact `#6.552` value).
fn read_svn(tm: &[(Value, Value)]) -> Result<u64, CorimError> {
    let path = "conditional-endorsement-series-triples";
    let ces = as_array(required(tm, triples::CONDITIONAL_ENDORSEMENT_SERIES, "CoMID triples", path)?, path)?;
    let rec = ces.first().ok_or_else(|| field(path, "empty"))?;
    let rec = as_array(rec, path)?;
    let series = rec.get(1).ok_or_else(|| field(path, "no series"))?;
    let first = as_array(series, &format!("{path} series"))?.first().ok_or_else(|| field(path, "empty series"))?;
    let addition = as_array(first, &format!("{path} series[0]"))?.get(1).ok_or_else(|| field(path, "series[0] has no addition"))?;
    let add0 = as_array(addition, &format!("{path} series[0] addition"))?.first().ok_or_else(|| field(path, "empty addition"))?;
    let mval = as_map(required(as_map(add0, path)?, env::MVAL, path, "mval")?, path)?;
    match required(mval, env::SVN, path, "svn")? {
        Value::Tag(tag::SVN, v) => {
            v.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| field(path, "the exact SVN is not an unsigned integer"))
        }
        other => Err(field(path, format!("the SVN is {}; the profile allows only an exact SVN (#6.552)", kind(other)))),
    }
}
