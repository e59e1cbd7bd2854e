//! ID blocks and ID_AUTH_INFO: layout, signing and verifying, key loading, and bad input.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prelaunch_measure::idblock::{
    AmdPublicKey, AmdPublicKeyError, AmdSignatureError, ID_AUTH_LEN, IdAuthError, IdAuthInfo, IdBlock, IdBlockError, IdKey, IdKeyError,
    SignedIdBlock,
};
use proptest::prelude::*;

fn testdata(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name)).unwrap()
}

fn keys() -> (IdKey, IdKey) {
    (IdKey::from_pem(&testdata("id-key.pem")).unwrap(), IdKey::from_pem(&testdata("author-key.pem")).unwrap())
}

fn block() -> IdBlock {
    let mut ld = [0u8; 48];
    ld.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    IdBlock::new(ld)
}

#[test]
fn id_block_layout_is_amds() {
    let mut b = block();
    b.family_id = [0xF1; 16];
    b.image_id = [0x1A; 16];
    b.guest_svn = 0x0102_0304;
    b.policy = 0x000B_0000_0003_0000;
    let bytes = b.to_bytes();
    assert_eq!(&bytes[..48], &b.ld);
    assert_eq!(&bytes[48..64], &[0xF1; 16]);
    assert_eq!(&bytes[64..80], &[0x1A; 16]);
    assert_eq!(&bytes[80..84], &[1, 0, 0, 0]);
    assert_eq!(&bytes[84..88], &[4, 3, 2, 1]);
    assert_eq!(&bytes[88..96], &[0, 0, 3, 0, 0, 0, 0x0B, 0]);
    assert_eq!(IdBlock::from_bytes(&bytes).unwrap(), b);

    let d = IdBlock::new([0; 48]);
    assert_eq!((d.family_id, d.image_id, d.version, d.guest_svn, d.policy), ([0; 16], [0; 16], 1, 0, 0x30000));
}

#[test]
fn id_block_bad_inputs() {
    let good = block().to_bytes();
    let mut v2 = good;
    v2[80] = 2;
    let cases: Vec<(&str, Vec<u8>, IdBlockError)> = vec![
        ("empty", vec![], IdBlockError::Length { len: 0 }),
        ("truncated", good[..95].to_vec(), IdBlockError::Length { len: 95 }),
        ("oversized", [&good[..], &[0]].concat(), IdBlockError::Length { len: 97 }),
        ("version 2", v2.to_vec(), IdBlockError::Version { version: 2 }),
        ("version 0", [&good[..80], &[0; 16]].concat(), IdBlockError::Version { version: 0 }),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(IdBlock::from_bytes(&bytes), Err(want), "{what}");
    }
    assert_eq!(IdBlockError::Version { version: 2 }.to_string(), "ID block: VERSION at offset 0x50 is 2, expected 1");
}

#[test]
fn signs_verifies_and_round_trips_with_an_author_key() {
    let (id, author) = keys();
    let signed = SignedIdBlock::sign(block(), &id, Some(&author));
    signed.verify().unwrap();
    let auth = signed.auth.to_bytes();
    assert_eq!(auth.len(), ID_AUTH_LEN);
    assert_eq!(&auth[0..8], &[1, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(&auth[0x240..0x644], &id.public_key().to_bytes());
    assert_eq!(&auth[0x880..0xC84], &author.public_key().to_bytes());
    assert!(auth[0x40 + 144..0x240].iter().all(|&b| b == 0), "signature reserved tail");
    assert!(auth[0xC84..].iter().all(|&b| b == 0), "trailing reserved");
    assert_eq!(signed.id_key_digest(), id.digest());
    assert_eq!(signed.author_key_digest(), Some(author.digest()));

    let back = SignedIdBlock::from_bytes(&signed.block.to_bytes(), &auth).unwrap();
    assert_eq!(back, signed);
    back.verify().unwrap();

    let args = signed.qemu_args();
    assert!(args.author_key_enabled);
    assert_eq!(STANDARD.decode(&args.id_block).unwrap(), signed.block.to_bytes());
    assert_eq!(STANDARD.decode(&args.id_auth).unwrap(), auth);
    assert_eq!(args.to_string(), format!("id-block={},id-auth={},author-key-enabled=on", args.id_block, args.id_auth));
    assert_eq!(SignedIdBlock::from_base64(&args.id_block, &args.id_auth).unwrap(), signed);
}

#[test]
fn without_an_author_key_the_author_fields_are_zero() {
    let (id, _) = keys();
    let signed = SignedIdBlock::sign(block(), &id, None);
    signed.verify().unwrap();
    let auth = signed.auth.to_bytes();
    assert!(auth[0x680..].iter().all(|&b| b == 0));
    assert_eq!(signed.author_key_digest(), None);
    assert!(!signed.qemu_args().author_key_enabled);
    assert!(signed.qemu_args().to_string().ends_with(",author-key-enabled=off"));
    let back = IdAuthInfo::from_bytes(&auth).unwrap();
    assert!(back.author.is_none());
    back.verify(&signed.block).unwrap();
}

#[test]
fn any_change_breaks_verification() {
    let (id, author) = keys();
    let signed = SignedIdBlock::sign(block(), &id, Some(&author));
    let auth = signed.auth.to_bytes();

    let mut other_block = signed.block.clone();
    other_block.policy ^= 1 << 19;
    assert_eq!(
        signed.auth.verify(&other_block),
        Err(IdAuthError::Mismatch { field: "ID_BLOCK_SIG", offset: 0x40, over: "the ID block", key: "ID_KEY" })
    );
    // Swapping in a different (valid) ID key: the block signature and the author's signature both fail.
    let mut swapped = signed.auth.clone();
    swapped.id_key = author.public_key().clone();
    assert!(matches!(swapped.verify(&signed.block), Err(IdAuthError::Mismatch { field: "ID_BLOCK_SIG", .. })));
    let mut resigned = IdAuthInfo::sign(&signed.block, &author, Some(&author));
    resigned.author = signed.auth.author.clone();
    assert_eq!(
        resigned.verify(&signed.block),
        Err(IdAuthError::Mismatch { field: "ID_KEY_SIG", offset: 0x680, over: "the ID key", key: "AUTHOR_KEY" })
    );
    for at in [0x40, 0x40 + 72, 0x680, 0x680 + 100] {
        let mut t = auth.clone();
        t[at] ^= 1;
        let parsed = IdAuthInfo::from_bytes(&t).unwrap();
        assert!(matches!(parsed.verify(&signed.block), Err(IdAuthError::Mismatch { .. })), "byte {at:#x}");
    }
}

#[test]
fn id_auth_bad_inputs() {
    let (id, author) = keys();
    let good = IdAuthInfo::sign(&block(), &id, Some(&author)).to_bytes();
    let with = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let key_err = |field, offset, reason| IdAuthError::Key { field, offset, reason };
    let cases: Vec<(&str, Vec<u8>, IdAuthError)> = vec![
        ("empty", vec![], IdAuthError::Length { len: 0 }),
        ("truncated", good[..4095].to_vec(), IdAuthError::Length { len: 4095 }),
        ("oversized", [&good[..], &[0]].concat(), IdAuthError::Length { len: 4097 }),
        ("all zero", vec![0; 4096], IdAuthError::Algorithm { field: "ID_KEY_ALGO", offset: 0, value: 0 }),
        ("id key algo 2", with(0, &[2]), IdAuthError::Algorithm { field: "ID_KEY_ALGO", offset: 0, value: 2 }),
        ("auth key algo 0", with(4, &[0]), IdAuthError::Algorithm { field: "AUTH_KEY_ALGO", offset: 4, value: 0 }),
        ("id key curve 1", with(0x240, &[1]), key_err("ID_KEY", 0x240, AmdPublicKeyError::Curve(1))),
        ("author key curve 3", with(0x880, &[3]), key_err("AUTHOR_KEY", 0x880, AmdPublicKeyError::Curve(3))),
        ("qx too wide", with(0x240 + 4 + 50, &[1]), key_err("ID_KEY", 0x240, AmdPublicKeyError::TooWide { part: "qx" })),
        ("key reserved", with(0x240 + 200, &[1]), key_err("ID_KEY", 0x240, AmdPublicKeyError::Reserved)),
        ("point off curve", with(0x240 + 4, &[good[0x244] ^ 1]), key_err("ID_KEY", 0x240, AmdPublicKeyError::NotOnCurve)),
        (
            "signature r too wide",
            with(0x40 + 60, &[1]),
            IdAuthError::Signature { field: "ID_BLOCK_SIG", offset: 0x40, reason: AmdSignatureError::TooWide { part: "r" } },
        ),
    ];
    for (what, bytes, want) in cases {
        let got = IdAuthInfo::from_bytes(&bytes).and_then(|a| a.verify(&block()).map(|_| a));
        assert_eq!(got, Err(want), "{what}");
    }
    assert_eq!(
        key_err("ID_KEY", 0x240, AmdPublicKeyError::NotOnCurve).to_string(),
        "ID auth info: ID_KEY at offset 0x240: (qx, qy) is not a point on P-384"
    );
    assert!(matches!(SignedIdBlock::from_base64("!!", "AA=="), Err(prelaunch_measure::idblock::IdError::Base64 { field: "id-block", .. })));
}

#[test]
fn keys_load_from_sec1_with_parameters_and_pkcs8() {
    let (id, author) = keys();
    assert_ne!(id.digest(), author.digest());
    // The PKCS#8 file's key loads the same from either form of its public half.
    let again = IdKey::from_pem_bytes(testdata("author-key.pem").as_bytes()).unwrap();
    assert_eq!(again.digest(), author.digest());
    let pk = AmdPublicKey::from_bytes(&id.public_key().to_bytes()).unwrap();
    assert_eq!(&pk, id.public_key());
    assert_eq!(pk.digest(), id.digest());
}

#[test]
fn key_errors() {
    // The error names what the file holds, not what was wanted (issue 10).
    let p256 = IdKey::from_pem(&testdata("p256-key.pem")).unwrap_err();
    assert!(
        matches!(&p256, IdKeyError::WrongKind { label: "EC PRIVATE KEY", offset: 0, found } if found == "EC prime256v1 (P-256) (1.2.840.10045.3.1.7)"),
        "{p256}"
    );
    assert!(p256.to_string().contains("SEV-SNP ID and author keys are ECDSA P-384"), "{p256}");
    let rsa = IdKey::from_pem(RSA_PKCS8).unwrap_err();
    assert_eq!(
        rsa.to_string(),
        "\"PRIVATE KEY\" block at offset 0x0 holds a rsaEncryption (1.2.840.113549.1.1.1) key; SEV-SNP ID and author keys are ECDSA P-384 (secp384r1)"
    );
    let p256_pkcs8 = IdKey::from_pem(P256_PKCS8).unwrap_err();
    assert!(matches!(&p256_pkcs8, IdKeyError::WrongKind { found, .. } if found.contains("1.2.840.10045.3.1.7")), "{p256_pkcs8}");
    let enc = IdKey::from_pem(ENCRYPTED_SEC1).unwrap_err();
    assert_eq!(enc, IdKeyError::Encrypted { format: "SEC1 (traditional OpenSSL)", offset: 0 });
    assert!(enc.to_string().starts_with("encrypted SEC1 (traditional OpenSSL) key at offset 0x0: decrypt it first"), "{enc}");

    type Case = (&'static str, String, fn(&IdKeyError) -> bool);
    let cases: Vec<Case> = vec![
        ("empty", String::new(), |e| matches!(e, IdKeyError::NoKeyBlock { found } if found.is_empty())),
        (
            "certificate only",
            testdata("vcek-test.pem"),
            |e| matches!(e, IdKeyError::NoKeyBlock { found } if found == "; found only \"CERTIFICATE\""),
        ),
        ("encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n".into(), |e| {
            matches!(e, IdKeyError::Encrypted { format: "PKCS#8", offset: 0 })
        }),
        (
            "unterminated",
            "junk\n-----BEGIN EC PRIVATE KEY-----\nMIGkAgEBBDB\n".into(),
            |e| matches!(e, IdKeyError::Unterminated { label, offset: 5 } if label == "EC PRIVATE KEY"),
        ),
        ("bad base64", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".into(), |e| {
            matches!(e, IdKeyError::Invalid { label: "PRIVATE KEY", .. })
        }),
        ("BEGIN without dashes", "-----BEGIN EC PRIVATE KEY\n".into(), |e| matches!(e, IdKeyError::NoKeyBlock { .. })),
    ];
    for (what, pem, ok) in cases {
        let e = IdKey::from_pem(&pem).unwrap_err();
        assert!(ok(&e), "{what}: {e:?}");
    }
    assert_eq!(IdKey::from_pem_bytes(&[0xff, 0xfe]).unwrap_err(), IdKeyError::NotText);
}

#[test]
fn key_material_never_shows_in_debug_or_errors() {
    let pem = testdata("id-key.pem");
    let key = IdKey::from_pem(&pem).unwrap();
    let key_block = &pem[pem.find("-----BEGIN EC PRIVATE KEY").unwrap()..];
    let secret = p384::SecretKey::from_sec1_pem(key_block).unwrap();
    let scalar_hex = hex::encode(secret.to_bytes());
    let body: Vec<&str> = key_block.lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).collect();
    let shown = [format!("{key:?}"), format!("{:?}", SignedIdBlock::sign(block(), &key, None))];
    for s in &shown {
        assert!(!s.contains(&scalar_hex) && !s.contains(&scalar_hex[..16]), "{s}");
        assert!(body.iter().all(|l| !s.contains(&l[..16])), "{s}");
    }
    assert!(shown[0].starts_with("IdKey { public_key_digest: "));

    // A damaged key, or a mangled BEGIN line that swallows key text into its "label", must not echo it.
    let damaged = pem.replace(&body[1][10..20], "**********");
    let mangled = format!("-----BEGIN {}-----\n", body[1]);
    for bad in [damaged, mangled] {
        let msg = IdKey::from_pem(&bad).unwrap_err().to_string();
        assert!(body.iter().all(|l| !msg.contains(&l[..12])), "{msg}");
    }
}

#[test]
fn ephemeral_keys_are_fresh_and_sign() {
    let a = IdKey::ephemeral().unwrap();
    let b = IdKey::ephemeral().unwrap();
    assert_ne!(a.digest(), b.digest());
    SignedIdBlock::sign(block(), &a, Some(&b)).verify().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let _ = IdBlock::from_bytes(&bytes);
        let _ = IdAuthInfo::from_bytes(&bytes);
        let _ = IdKey::from_pem_bytes(&bytes);
        let _ = AmdPublicKey::from_bytes(&bytes);
    }

    #[test]
    fn random_auth_bodies_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 4096), zero_author: bool) {
        bytes[0..8].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        if zero_author {
            bytes[0x680..].fill(0);
        }
        if let Ok(a) = IdAuthInfo::from_bytes(&bytes) {
            let _ = a.verify(&block());
        }
    }

    #[test]
    fn random_pem_like_text_never_panics(s in "(-----(BEGIN|END) [A-Z ]{0,20}-----\n?|[A-Za-z0-9+/=\n]{0,80}){0,6}") {
        let _ = IdKey::from_pem(&s);
    }
}

/// Test keys made with `openssl genpkey`/`ecparam` for these cases only.
const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAsXXAuyPsUDunFgkT
0S6VwmiflbmOEgQr1fggcY8BsWREdf9uxUn2xvMmriLI1J8NdnuazUhdv6UljvAi
3YPpiQIDAQABAkAJJv2NqUiiyrDPXiB7hV+L60Fvw2YkX7qzCl0B/lIkB+W32bvY
jEJwzIIvJXnWbinPgdgjnYeTguQ7J/uHWxdBAiEA623OKJTyNFT0gaFdohG+xL+j
0FTH5StyGFelO2qgvW0CIQDA90Svv6JdLU19sP/Z0R12oy1Ag5W9RYvWh0HqObuX
DQIhAI8Ng61pA9sEnCWAdbKa8b3/bHyUZ3o68fMUnpQB8HXpAiAx8IyNM3pQxQW2
DtXYSF9oschnVuas6k/LgIvVk4VyDQIgF4aWgiUKi7UeMS3643LyI8tHsrra4y5h
lRJv2bFMdms=
-----END PRIVATE KEY-----
";
const P256_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9CBZ7E07f7BmIZHI
UWyZBIiNuaLGPsTldUJBLJGIzk2hRANCAARagJeCFJx+qQz85iRAlEZzb6RYASLO
bq+MrpZpRPZarC2A21KXto3gETaOOgVBOUy9hR4OZV61Jp+l0/FeS514
-----END PRIVATE KEY-----
";
const ENCRYPTED_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,5B8767325B9F8D9FB0DEFA8950E056AD

7K4Muqpaa8PBXhvfZ6P+uGOnSJ/pGiXUeBBgcgJm7r8+hH4lqQlyFrUt5yjTgq5t
vR6XJC5GAPsHkXefXFeTTQkt0tDZbUtqf9rCIiFqUYYFRxxLS5QYtBwtPLmIwamY
iV+hF6rJijmaUN4I/n6q9HAX5eW3M6ZnidtkS15CVIbDib+MOo++4zPj52cnYElS
F2Wj1ja2kNr96IbH/4wHokjyo9LXHnRIpiXORvWJRwk=
-----END EC PRIVATE KEY-----
";
