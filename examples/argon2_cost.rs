//! The raw cost of argon2id with SPEC's default parameters (m = 19456 KiB,
//! t = 2, p = 1), in process, through the same functions the CLI uses:
//! `tokenctl::token::hash_secret` (what `token create` pays) and
//! `tokenctl::token::secret_matches` (what `token verify` pays).
//!
//! ```sh
//! cargo run --release --example argon2_cost [-- --runs 20]
//! ```
//!
//! Prints the median, min and max of each in milliseconds. bench/run.sh
//! reads the `hash_secret` and `secret_matches` lines (third field).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use tokenctl::token;

const DEFAULT_RUNS: usize = 20;
const WARMUP: usize = 2;

fn parse_runs() -> Result<usize, String> {
    let mut runs = DEFAULT_RUNS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                let text = args.next().ok_or("--runs needs a value")?;
                runs = text
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--runs: not a positive number: {text}"))?;
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(runs)
}

/// Median, min and max of `runs` timings of `f`, in milliseconds.
fn measure(runs: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..WARMUP {
        f();
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let mid = ms.len() / 2;
    let median = if ms.len().is_multiple_of(2) {
        (ms[mid - 1] + ms[mid]) / 2.0
    } else {
        ms[mid]
    };
    (median, ms[0], ms[ms.len() - 1])
}

fn main() -> ExitCode {
    let runs = match parse_runs() {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}\nusage: argon2_cost [--runs N]");
            return ExitCode::from(2);
        }
    };
    let secret = match token::generate() {
        Ok(t) => t.secret,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let phc = token::hash_secret(&secret).expect("hashing works");
    assert!(
        phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "unexpected parameters: {phc}"
    );

    let hash = measure(runs, || {
        black_box(token::hash_secret(black_box(&secret)).expect("hashing works"));
    });
    let verify = measure(runs, || {
        assert!(black_box(token::secret_matches(
            black_box(&secret),
            black_box(&phc)
        )));
    });

    println!("argon2id m=19456 t=2 p=1, {runs} runs each after {WARMUP} warm-up");
    for (label, (median, min, max)) in [("hash_secret", hash), ("secret_matches", verify)] {
        println!("{label:<15} median {median:8.2} ms  (min {min:.2}, max {max:.2})");
    }
    ExitCode::SUCCESS
}
