//! gen-image: writes a synthetic firmware image (and/or its JSON layout) for tests in other languages.

use std::process::ExitCode;

use prelaunch_testdata::corrupt::parse_u64;
use prelaunch_testdata::{Corruption, ImageBuilder, Stress, random_snp_layout, random_tdx_layout};

const USAGE: &str = "\
usage: gen-image --preset ovmf|amdsev|tdvf|svsm|touching [--size BYTES] [--seed N] [OPTIONS]
       gen-image --random-snp SEED [OPTIONS]
       gen-image --random-tdx SEED [OPTIONS]
       gen-image --stress sev-overlap|sev-disjoint|tdvf-overlap|tdvf-disjoint|tdvf-legacy|tdvf-zeros|sev-large|tdvf-large
                 [--count N] [--total BYTES] [--size BYTES] [OPTIONS]
       gen-image --list-corruptions
       gen-image --acpi-dir DIR [--vcpus N] [--seed N]   QEMU-like ACPI blobs: DIR/{table-loader,rsdp,tables}
       gen-image --pe-kernel FILE [--seed N] [--text-size BYTES]
                                                         a bzImage-shaped PE kernel (Debian cloud layout)

options:
  --out FILE         write the image to FILE
  --describe         print the layout as JSON on stdout
  --corrupt NAME[=N] apply a named corruption (repeatable, applied in order)

BYTES and N are decimal or 0x-hex; BYTES may end in K or M (KiB, MiB). Defaults: --size 2M, --seed 0,
--count: as many as fit the image, --total (sev-large, tdvf-large): 3584M. BYTES may also end in G.";

struct Args {
    source: Option<Source>,
    size: usize,
    seed: u64,
    count: Option<usize>,
    total: Option<u64>,
    out: Option<String>,
    describe: bool,
    corrupt: Vec<Corruption>,
    list: bool,
    acpi_dir: Option<String>,
    vcpus: u32,
    pe_kernel: Option<String>,
    text_size: Option<usize>,
}

enum Source {
    Preset(String),
    RandomSnp(u64),
    RandomTdx(u64),
    Stress(Stress),
}

fn parse_size(s: &str) -> Option<usize> {
    let (num, mul) = match s.trim_end_matches("iB").trim_end_matches('i') {
        t if t.ends_with(['K', 'k']) => (&t[..t.len() - 1], 1024),
        t if t.ends_with(['M', 'm']) => (&t[..t.len() - 1], 1024 * 1024),
        t if t.ends_with(['G', 'g']) => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        t => (t, 1),
    };
    usize::try_from(parse_u64(num)?).ok()?.checked_mul(mul)
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        source: None,
        size: 2 << 20,
        seed: 0,
        count: None,
        total: None,
        out: None,
        describe: false,
        corrupt: Vec::new(),
        list: false,
        acpi_dir: None,
        vcpus: 1,
        pe_kernel: None,
        text_size: None,
    };
    let set_source = |a: &mut Args, s: Source| {
        if a.source.replace(s).is_some() {
            return Err("give one of --preset, --random-snp, --random-tdx, --stress".to_string());
        }
        Ok(())
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |v: String, name: &str| parse_u64(&v).ok_or_else(|| format!("{name}: not a number: {v:?}"));
        match flag.as_str() {
            "--preset" => {
                let v = value("--preset")?;
                set_source(&mut a, Source::Preset(v))?;
            }
            "--random-snp" => {
                let v = num(value("--random-snp")?, "--random-snp")?;
                set_source(&mut a, Source::RandomSnp(v))?;
            }
            "--random-tdx" => {
                let v = num(value("--random-tdx")?, "--random-tdx")?;
                set_source(&mut a, Source::RandomTdx(v))?;
            }
            "--stress" => {
                let v = value("--stress")?;
                let k = Stress::from_name(&v)
                    .ok_or_else(|| format!("--stress: unknown shape {v:?} ({})", Stress::ALL.map(|k| k.name()).join(", ")))?;
                set_source(&mut a, Source::Stress(k))?;
            }
            "--total" => {
                let v = value("--total")?;
                a.total = Some(parse_size(&v).ok_or_else(|| format!("--total: not a size: {v:?}"))? as u64);
            }
            "--count" => a.count = Some(usize::try_from(num(value("--count")?, "--count")?).map_err(|_| "--count: too large")?),
            "--size" => {
                let v = value("--size")?;
                a.size = parse_size(&v).ok_or_else(|| format!("--size: not a size: {v:?}"))?;
            }
            "--seed" => a.seed = num(value("--seed")?, "--seed")?,
            "--out" => a.out = Some(value("--out")?),
            "--describe" => a.describe = true,
            "--corrupt" => a.corrupt.push(value("--corrupt")?.parse()?),
            "--list-corruptions" => a.list = true,
            "--acpi-dir" => a.acpi_dir = Some(value("--acpi-dir")?),
            "--vcpus" => a.vcpus = u32::try_from(num(value("--vcpus")?, "--vcpus")?).map_err(|_| "--vcpus: too large")?,
            "--pe-kernel" => a.pe_kernel = Some(value("--pe-kernel")?),
            "--text-size" => a.text_size = Some(parse_size(&value("--text-size")?).ok_or("--text-size: expected a size in bytes")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // Arguments that do not fit together are usage errors (exit 2), as unknown ones are.
    if !a.list {
        match &a.source {
            None => return Err("give --preset, --random-snp, --random-tdx or --stress".into()),
            Some(Source::Preset(p)) if !["ovmf", "amdsev", "tdvf", "svsm"].contains(&p.as_str()) => {
                return Err(format!("unknown preset {p:?} (ovmf, amdsev, tdvf, svsm)"));
            }
            _ => {}
        }
        if a.out.is_none() && !a.describe {
            return Err("nothing to do: give --out FILE and/or --describe".into());
        }
    }
    Ok(a)
}

fn run(a: Args) -> Result<(), String> {
    if a.list {
        for c in Corruption::all() {
            println!("{c}\t{}\t{}", c.expect(), c.doc());
        }
        return Ok(());
    }
    if let Some(dir) = &a.acpi_dir {
        let b = prelaunch_testdata::acpi::build(a.vcpus, a.seed as u32);
        std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
        for (name, bytes) in [("table-loader", &b.loader), ("rsdp", &b.rsdp), ("tables", &b.tables)] {
            let p = std::path::Path::new(dir).join(name);
            std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        return Ok(());
    }
    if let Some(path) = &a.pe_kernel {
        let mut k = prelaunch_testdata::PeKernel { seed: a.seed, ..Default::default() };
        if let Some(n) = a.text_size
            && let Some(text) = k.sections.iter_mut().find(|s| s.name == ".text")
        {
            text.raw_size = n.next_multiple_of(0x200);
        }
        let k = k.build();
        return std::fs::write(path, &k.bytes).map_err(|e| format!("{path}: {e}"));
    }
    let builder = match a.source.ok_or("give --preset, --random-snp, --random-tdx or --stress")? {
        Source::Preset(p) => match p.as_str() {
            "ovmf" => ImageBuilder::ovmf_like(a.size),
            "amdsev" => ImageBuilder::amdsev_like(a.size),
            "tdvf" => ImageBuilder::tdvf_only(a.size),
            "svsm" => ImageBuilder::svsm_like(a.size),
            "touching" => ImageBuilder::touching_2m(a.size),
            other => {
                return Err(format!("unknown preset {other:?} (ovmf, amdsev, tdvf, svsm, touching)"));
            }
        }
        .seed(a.seed),
        Source::RandomSnp(s) => random_snp_layout(s),
        Source::RandomTdx(s) => random_tdx_layout(s),
        Source::Stress(k) => k.builder_total(a.size, a.count.unwrap_or(usize::MAX), a.total.unwrap_or(Stress::DEFAULT_TOTAL)).seed(a.seed),
    };
    if a.out.is_none() && !a.describe {
        return Err("nothing to do: give --out FILE and/or --describe".into());
    }
    let mut built = builder.try_build().map_err(|e| e.to_string())?;
    for c in a.corrupt {
        built.corrupt(c).map_err(|e| format!("--corrupt {c}: {e}"))?;
    }
    if let Some(path) = &a.out {
        std::fs::write(path, &built.bytes).map_err(|e| format!("{path}: {e}"))?;
    }
    if a.describe {
        println!("{}", built.describe().render());
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen-image: {e}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(if e.is_empty() { 0 } else { 2 })
        }
        Ok(a) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gen-image: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
