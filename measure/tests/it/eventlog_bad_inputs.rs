//! The event-log parser against malformed logs: each is refused with an error naming what is wrong
//! and where, and nothing panics. Logs are built byte by byte here, independently of the parser.

use prelaunch_measure::eventlog::{EventLog, EventLogError, replay};

fn spec_id(algs: &[(u16, u16)]) -> Vec<u8> {
    let mut d = b"Spec ID Event03\0".to_vec();
    d.extend_from_slice(&0u32.to_le_bytes()); // platform class
    d.extend_from_slice(&[0, 2, 0, 2]); // minor, major, errata, uintn size
    d.extend_from_slice(&(algs.len() as u32).to_le_bytes());
    for (a, s) in algs {
        d.extend_from_slice(&a.to_le_bytes());
        d.extend_from_slice(&s.to_le_bytes());
    }
    d.push(0); // vendor info size
    let mut e = 1u32.to_le_bytes().to_vec();
    e.extend_from_slice(&3u32.to_le_bytes());
    e.extend_from_slice(&[0u8; 20]);
    e.extend_from_slice(&(d.len() as u32).to_le_bytes());
    e.extend_from_slice(&d);
    e
}

fn event(mr: u32, ty: u32, digests: &[(u16, Vec<u8>)], data: &[u8]) -> Vec<u8> {
    let mut e = mr.to_le_bytes().to_vec();
    e.extend_from_slice(&ty.to_le_bytes());
    e.extend_from_slice(&(digests.len() as u32).to_le_bytes());
    for (a, d) in digests {
        e.extend_from_slice(&a.to_le_bytes());
        e.extend_from_slice(d);
    }
    e.extend_from_slice(&(data.len() as u32).to_le_bytes());
    e.extend_from_slice(data);
    e
}

fn good() -> Vec<u8> {
    let mut l = spec_id(&[(0xc, 48)]);
    l.extend(event(1, 4, &[(0xc, vec![7; 48])], &[0, 0, 0, 0]));
    l.extend(vec![0xff; 64]);
    l
}

#[test]
fn a_minimal_log_parses_and_replays() {
    let l = good();
    let log = EventLog::parse(&l).unwrap();
    assert_eq!(log.events.len(), 1);
    let r = replay(&log).unwrap();
    assert!(!r.rtmrs.0[0].is_zero() && r.rtmrs.0[1].is_zero());
}

#[test]
fn malformed_logs_are_refused_with_their_place() {
    let sid = spec_id(&[(0xc, 48)]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "shorter than"),
        ("not EV_NO_ACTION first", [vec![1, 0, 0, 0, 5, 0, 0, 0], vec![0; 40]].concat(), "expected EV_NO_ACTION"),
        ("the CCEL ACPI table", [b"CCEL".to_vec(), vec![0x38, 0, 0, 0], vec![0; 48]].concat(), "CCEL ACPI table"),
        (
            "bad signature",
            {
                let mut l = sid.clone();
                l[32] = b'X';
                l
            },
            "signature",
        ),
        ("no algorithms", spec_id(&[]), "numberOfAlgorithms 0"),
        ("wrong SHA-384 size", spec_id(&[(0xc, 32)]), "expected 48"),
        (
            "spec id EventSize past end",
            {
                let mut l = sid.clone();
                l[28] = 0xff;
                l[29] = 0xff;
                l
            },
            "runs past the end",
        ),
        ("digest count 0", [sid.clone(), event(1, 4, &[], &[0; 4])].concat(), "digest count 0"),
        (
            "digest count too big",
            [sid.clone(), {
                let mut e = event(1, 4, &[(0xc, vec![0; 48])], &[0; 4]);
                e[8] = 9;
                e
            }]
            .concat(),
            "digest count 9",
        ),
        ("undeclared algorithm", [sid.clone(), event(1, 4, &[(0xb, vec![0; 32])], &[0; 4])].concat(), "not declared"),
        ("truncated digest", [sid.clone(), event(1, 4, &[(0xc, vec![0; 48])], &[])][..].concat()[..sid.len() + 30].to_vec(), "truncated"),
        (
            "EventSize past end",
            [sid.clone(), {
                let mut e = event(1, 4, &[(0xc, vec![0; 48])], &[0; 4]);
                let n = e.len();
                e[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
                e
            }]
            .concat(),
            "runs past the end",
        ),
    ];
    for (what, bytes, want) in cases {
        let e = EventLog::parse(&bytes).err().unwrap_or_else(|| panic!("{what}: accepted"));
        let msg = e.to_string();
        assert!(msg.contains(want), "{what}: {msg}");
        if let EventLogError::Event { index, .. } = e {
            assert_eq!(index, 1, "{what}");
        }
    }
}

#[test]
fn events_outside_rtmrs_are_problems_not_extensions() {
    let mut l = spec_id(&[(0xc, 48), (0xb, 32)]);
    l.extend(event(0, 1, &[(0xc, vec![1; 48])], b"x"));
    l.extend(event(7, 1, &[(0xc, vec![1; 48])], b"y"));
    l.extend(event(2, 1, &[(0xb, vec![1; 32])], b"z"));
    let log = EventLog::parse(&l).unwrap();
    assert_eq!(log.events.len(), 3);
    let e = replay(&log).unwrap_err().to_string();
    assert!(e.contains("event 3") && e.contains("no SHA-384"), "{e}");
    let log = EventLog::parse(&l[..l.len() - event(2, 1, &[(0xb, vec![1; 32])], b"z").len()]).unwrap();
    let r = replay(&log).unwrap();
    assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    assert!(r.rtmrs.0.iter().all(|x| x.is_zero()));
}

#[test]
fn random_bytes_never_panic() {
    let mut s = 0x1234_5678_9abc_def0u64;
    let base = good();
    for _ in 0..2000 {
        let mut b = base.clone();
        for _ in 0..4 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let i = (s as usize) % b.len();
            b[i] = (s >> 32) as u8;
        }
        if let Ok(log) = EventLog::parse(&b) {
            let _ = replay(&log);
            for e in &log.events {
                let _ = prelaunch_measure::eventlog::decode(e.event_type, e.data).summary();
            }
        }
    }
}
