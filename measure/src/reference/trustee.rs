//! `--format trustee`: the reference values Trustee's reference value provider (RVPS) stores and
//! serves to its attestation service: one object per claim name its default SNP and TDX policies
//! query (`snp_launch_measurement`; `mr_td`, `rtmr_0`..`rtmr_2`), each a list of lowercase hex
//! values. Each object carries the value list both as `value` (RVPS since "drop HashValue
//! abstraction") and as `hash-value` `[{alg, value}]` (the older ReferenceValue 0.1.0 layout), so
//! either generation reads it.
//!
//! Trustee checks each claim on its own (`claim in list`), so a TDX file read back is the product
//! of its lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Entry, Metadata, Platform, ReferenceSet, Shape, Values, hex48};

/// The RVPS reference value version these objects declare.
pub const RV_VERSION: &str = "0.1.0";
/// Claim names, as Trustee's default policy queries them.
pub const SNP_MEASUREMENT: &str = "snp_launch_measurement";
pub const TDX_MRTD: &str = "mr_td";
pub const TDX_RTMRS: [&str; 3] = ["rtmr_0", "rtmr_1", "rtmr_2"];
/// Largest product of TDX lists read back (a hostile file must not make a huge set).
const MAX_PRODUCT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrusteeError {
    #[error("not Trustee reference-value JSON: {0}")]
    Parse(String),
    #[error("reference value {name:?}: {msg}")]
    Value { name: String, msg: String },
    #[error("no claim prelaunch knows ({SNP_MEASUREMENT}, {TDX_MRTD}, rtmr_0..2); found: {0}")]
    NoKnownClaim(String),
    #[error("the TDX lists multiply to more than {MAX_PRODUCT} combinations")]
    TooMany,
    #[error("the set is empty")]
    Empty,
    #[error("cannot encode JSON: {0}")]
    Encode(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashValue {
    pub alg: String,
    pub value: String,
}

/// One RVPS reference value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceValue {
    #[serde(default = "default_version")]
    pub version: String,
    pub name: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(rename = "hash-value", default, skip_serializing_if = "Option::is_none")]
    pub hash_value: Option<Vec<HashValue>>,
}

fn default_version() -> String {
    RV_VERSION.into()
}

/// The reference values of `set`, expiring at `expiration` (seconds since the epoch).
pub fn encode(set: &ReferenceSet, expiration: i64) -> Result<Vec<u8>, TrusteeError> {
    if set.entries.is_empty() {
        return Err(TrusteeError::Empty);
    }
    let mut lists: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut add = |name: &'static str, d: Option<&[u8; 48]>| {
        if let Some(d) = d {
            let l = lists.entry(name).or_default();
            let h = hex::encode(d);
            if !l.contains(&h) {
                l.push(h);
            }
        }
    };
    for e in &set.entries {
        match e.platform {
            Platform::Snp => add(SNP_MEASUREMENT, e.values.measurement.as_ref()),
            Platform::Tdx => {
                add(TDX_MRTD, e.values.mrtd.as_ref());
                for (n, r) in TDX_RTMRS.iter().zip(e.values.rtmrs()) {
                    add(n, r);
                }
            }
        }
    }
    let exp = rfc3339(expiration);
    let out: Vec<ReferenceValue> = lists
        .into_iter()
        .map(|(name, values)| ReferenceValue {
            version: RV_VERSION.into(),
            name: name.into(),
            expiration: exp.clone(),
            hash_value: Some(values.iter().map(|v| HashValue { alg: "sha384".into(), value: v.clone() }).collect()),
            value: Some(serde_json::Value::from(values)),
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&out).map_err(|e| TrusteeError::Encode(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads an array of reference values, one reference value, or the sample provenance map
/// (`{"name": ["value", ...]}`) that RVPS registers.
pub fn decode(bytes: &[u8]) -> Result<ReferenceSet, TrusteeError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| TrusteeError::Parse(e.to_string()))?;
    let mut claims: BTreeMap<String, Vec<[u8; 48]>> = BTreeMap::new();
    let mut push = |name: &str, list: Vec<String>| -> Result<(), TrusteeError> {
        let ds = list
            .iter()
            .map(|s| hex48::parse(s).map_err(|msg| TrusteeError::Value { name: name.into(), msg }))
            .collect::<Result<Vec<_>, _>>()?;
        claims.entry(name.to_owned()).or_default().extend(ds);
        Ok(())
    };
    let rvs: Vec<serde_json::Value> = match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(ref o) if o.contains_key("name") && o.contains_key("expiration") => vec![v],
        serde_json::Value::Object(o) => {
            for (name, list) in o {
                let list: Vec<String> = serde_json::from_value(list)
                    .map_err(|e| TrusteeError::Value { name: name.clone(), msg: format!("expected a list of hex strings: {e}") })?;
                push(&name, list)?;
            }
            Vec::new()
        }
        _ => return Err(TrusteeError::Parse("expected an array or an object".into())),
    };
    for rv in rvs {
        let rv: ReferenceValue = serde_json::from_value(rv).map_err(|e| TrusteeError::Parse(e.to_string()))?;
        let list: Vec<String> = match (&rv.value, &rv.hash_value) {
            (Some(v), _) => serde_json::from_value(v.clone())
                .map_err(|e| TrusteeError::Value { name: rv.name.clone(), msg: format!("\"value\" is not a list of hex strings: {e}") })?,
            (None, Some(h)) => h.iter().map(|h| h.value.clone()).collect(),
            (None, None) => return Err(TrusteeError::Value { name: rv.name, msg: "neither \"value\" nor \"hash-value\"".into() }),
        };
        push(&rv.name, list)?;
    }
    let mut set = ReferenceSet { metadata: Metadata::default(), entries: Vec::new() };
    let entry = |platform, values| Entry { platform, shape: Shape::default(), values, inputs: BTreeMap::new() };
    for d in claims.get(SNP_MEASUREMENT).into_iter().flatten() {
        set.entries.push(entry(Platform::Snp, Values { measurement: Some(*d), ..Values::default() }));
    }
    if let Some(mrtds) = claims.get(TDX_MRTD) {
        let rtmr: Vec<Vec<Option<[u8; 48]>>> =
            TDX_RTMRS.iter().map(|n| claims.get(*n).map(|l| l.iter().copied().map(Some).collect()).unwrap_or_else(|| vec![None])).collect();
        let product = [mrtds.len(), rtmr[0].len(), rtmr[1].len(), rtmr[2].len()].iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        if product.is_none_or(|p| p > MAX_PRODUCT) {
            return Err(TrusteeError::TooMany);
        }
        for m in mrtds {
            for r0 in &rtmr[0] {
                for r1 in &rtmr[1] {
                    for r2 in &rtmr[2] {
                        let values = Values { mrtd: Some(*m), rtmr0: *r0, rtmr1: *r1, rtmr2: *r2, ..Values::default() };
                        set.entries.push(entry(Platform::Tdx, values));
                    }
                }
            }
        }
    }
    if set.entries.is_empty() {
        return Err(TrusteeError::NoKnownClaim(claims.keys().cloned().collect::<Vec<_>>().join(", ")));
    }
    Ok(set)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (the proleptic Gregorian calendar, as
/// chrono, which RVPS parses it with, reckons). No crate: this is one date conversion, not a codec.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
