//! `prelaunch event-log` on real CC event logs: the replay of go-tdx-guest's log reproduces its quote
//! (exit 0), a log paired with another boot's quote is a mismatch (exit 3) naming the registers, and
//! files that are not logs are errors (exit 1) naming the file.

use crate::common::{evidence_dir, expect_code, prelaunch, stderr, stdout};

fn ccel(name: &str) -> String {
    evidence_dir().join("ccel").join(name).display().to_string()
}

#[test]
fn real_log_replays_to_its_quote() {
    let o = prelaunch(&["event-log", &ccel("gotdx_ccel_data.dat"), "--report", &ccel("gotdx_cos-113-tdx-quote.dat")]);
    expect_code(&o, 0, "matching log and quote");
    let s = stdout(&o);
    for r in 0..4 {
        assert!(s.contains(&format!("RTMR{r} matches the TDX quote")), "{s}");
    }
    assert!(
        s.contains("SecureBoot")
            && s.contains("Exit Boot Services Returned with Success")
            && s.contains("File(\\EFI\\BOOT\\grub-lakitu.efi)"),
        "{s}"
    );
}

#[test]
fn json_lists_every_event_and_the_comparison() {
    let o = prelaunch(&["event-log", &ccel("gotdx_ccel_data.dat"), "--report", &ccel("gotdx_cos-113-tdx-quote.dat"), "--json"]);
    expect_code(&o, 0, "json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 43);
    assert_eq!(v["report"]["matches"], true);
    assert_eq!(v["report"]["signature_checked"], false);
    assert_eq!(v["rtmr0"], "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6");
    let boot = v["events"].as_array().unwrap().iter().find(|e| e["data"]["name"] == "Boot0000").unwrap();
    assert_eq!(boot["data"]["value"]["description"], "UiApp");
}

#[test]
fn another_boots_quote_is_a_mismatch_per_register() {
    let o = prelaunch(&["event-log", &ccel("trustee_CCEL_data_ovmf"), "--report", &ccel("gotdx_cos-113-tdx-quote.dat")]);
    expect_code(&o, 3, "foreign quote");
    let s = stdout(&o);
    assert!(s.contains("RTMR0 differs") && s.contains("RTMR3 matches"), "{s}");
}

#[test]
fn non_logs_are_errors_naming_the_file() {
    let quote = ccel("gotdx_cos-113-tdx-quote.dat");
    let o = prelaunch(&["event-log", &quote]);
    expect_code(&o, 1, "a quote given as the log");
    assert!(stderr(&o).contains(&quote), "{}", stderr(&o));
    let table = ccel("gotdx_ccel_table.dat");
    let o = prelaunch(&["event-log", &table]);
    expect_code(&o, 1, "the ACPI table given as the log");
    assert!(stderr(&o).contains("CCEL ACPI table"), "{}", stderr(&o));
    let o = prelaunch(&["event-log", "/nonexistent/ccel"]);
    expect_code(&o, 1, "missing file");
    let o = prelaunch(&["event-log", &ccel("gotdx_ccel_data.dat"), "--report", &ccel("gotdx_ccel_data.dat")]);
    expect_code(&o, 1, "a log given as the quote");
}
