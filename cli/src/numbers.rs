//! The CLI's number and range parsers (`--vcpus 1-64,128`, `--policy 0x30000`), apart from clap so
//! that the fuzz target `cli_numbers` compiles this file as it is.

use prelaunch_measure::plan::MAX_VCPUS;

/// One vCPU count, or a list/ranges of them (`4`, `1-64`, `1,2,4,8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcpuList(pub Vec<u32>);

impl VcpuList {
    pub fn is_single(&self) -> bool {
        self.0.len() == 1
    }
    pub fn max(&self) -> u32 {
        self.0.iter().copied().max().unwrap_or(0)
    }
}

/// Each count is 1..=[`MAX_VCPUS`] (a guest has at least one vCPU), and the list, ranges expanded,
/// holds at most [`MAX_VCPUS`] counts.
pub fn parse_vcpus(s: &str) -> Result<VcpuList, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let num = |t: &str| {
            let n = t.trim().parse::<u32>().map_err(|_| format!("{t:?} is not a vCPU count"))?;
            match n {
                0 => Err("0 vCPUs: a guest has at least one".to_string()),
                n if n > MAX_VCPUS => Err(format!("{n} vCPUs exceeds the maximum of {MAX_VCPUS}")),
                n => Ok(n),
            }
        };
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if a > b {
            return Err(format!("range {part} runs backwards"));
        }
        if out.len() + (b - a) as usize >= MAX_VCPUS as usize {
            return Err(format!("{s:?} lists more than {MAX_VCPUS} vCPU counts"));
        }
        out.extend(a..=b);
    }
    Ok(VcpuList(out))
}

/// Integers as Python's `int(x, 0)` reads them: decimal, 0x, 0o, 0b.
pub fn parse_int(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_owned()),
        None => (false, t.trim_start_matches('+').to_owned()),
    };
    if neg {
        return Err(format!("{s:?} is negative"));
    }
    let lower = t.to_ascii_lowercase();
    let r = if let Some(h) = lower.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        u64::from_str_radix(o, 8)
    } else if let Some(b) = lower.strip_prefix("0b") {
        u64::from_str_radix(b, 2)
    } else {
        lower.parse::<u64>()
    };
    r.map_err(|_| format!("{s:?} is not an integer (decimal, 0x…, 0o… or 0b…)"))
}
