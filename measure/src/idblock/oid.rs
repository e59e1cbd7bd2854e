//! Names for the algorithm and curve OIDs keys and certificates carry, so that errors say what was
//! found ("rsaEncryption (1.2.840.113549.1.1.1)") rather than what was wanted.

use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

pub(crate) const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
pub(crate) const SECP384R1: &str = "1.3.132.0.34";
pub(crate) const PRIME256V1: &str = "1.2.840.10045.3.1.7";

const NAMES: &[(&str, &str)] = &[
    (EC_PUBLIC_KEY, "id-ecPublicKey"),
    (SECP384R1, "secp384r1 (P-384)"),
    (PRIME256V1, "prime256v1 (P-256)"),
    ("1.3.132.0.35", "secp521r1 (P-521)"),
    ("1.3.132.0.10", "secp256k1"),
    ("1.2.840.113549.1.1.1", "rsaEncryption"),
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.3.101.112", "Ed25519"),
    ("1.3.101.110", "X25519"),
    ("1.2.840.10040.4.1", "DSA"),
];

/// `name (dotted)` for known OIDs, the dotted form otherwise.
pub(crate) fn describe(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    match NAMES.iter().find(|(o, _)| *o == dotted) {
        Some((_, name)) => format!("{name} ({dotted})"),
        None => dotted,
    }
}

/// The key algorithm, and for EC keys the curve, of a subject public key.
pub(crate) fn describe_spki(spki: &SubjectPublicKeyInfoOwned) -> String {
    let alg = &spki.algorithm;
    let curve = alg.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match curve {
        Some(c) if alg.oid.to_string() == EC_PUBLIC_KEY => format!("{} on {}", describe(&alg.oid), describe(&c)),
        _ => describe(&alg.oid),
    }
}

/// Whether `oid` is the one written `dotted`, without formatting it (verify compares OIDs on every
/// certificate of every report, and formatting one allocates).
pub(crate) fn is(oid: &ObjectIdentifier, dotted: &str) -> bool {
    ObjectIdentifier::new(dotted).is_ok_and(|o| o == *oid)
}

/// Whether a subject public key is an EC key on the named curve.
pub(crate) fn spki_is_ec_on(spki: &SubjectPublicKeyInfoOwned, curve: &str) -> bool {
    is(&spki.algorithm.oid, EC_PUBLIC_KEY)
        && spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).is_some_and(|c| is(&c, curve))
}
