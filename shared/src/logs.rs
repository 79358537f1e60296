//! The functions' logs, as Lambda's advanced logging controls configure them: JSON lines when
//! `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the template's setting), plain text otherwise; the level
//! from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `INFO`. What `lambda_runtime`'s own
//! `init_default_subscriber` does, without the per-module filters (`RUST_LOG=autopilot=debug`)
//! that bring a regex engine into every binary: a level is a level for every module here.

use tracing::level_filters::LevelFilter;

/// Pure: the level the environment asks for (`INFO` when it names none, or none readable).
pub fn level(lambda_level: Option<&str>, rust_log: Option<&str>) -> LevelFilter {
    lambda_level
        .or(rust_log)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Set up the process's logs; call once, first thing in `main`.
pub fn init() {
    let var = |name: &str| std::env::var(name).ok();
    let fmt = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level(
            var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
            var("RUST_LOG").as_deref(),
        ));
    if var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_level_wins_then_rust_log_then_info() {
        assert_eq!(level(Some("DEBUG"), Some("error")), LevelFilter::DEBUG);
        assert_eq!(level(None, Some("warn")), LevelFilter::WARN);
        assert_eq!(level(None, None), LevelFilter::INFO);
        assert_eq!(level(Some("loud"), None), LevelFilter::INFO);
        assert_eq!(level(None, Some("autopilot=debug")), LevelFilter::INFO);
    }
}
