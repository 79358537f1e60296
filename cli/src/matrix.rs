//! `autopilot audit --matrix`: the AZ coverage picture of an audit, in the terminal (width-aware,
//! plain ASCII where the locale may not show Unicode, colour only on a TTY), as JSON, and as one
//! self-contained HTML file with inline SVG — no script, no fetch, readable offline and in a
//! runbook.

use autopilot::availability_zones::coverage::text::Style;
use autopilot::availability_zones::coverage::{AzState, CellState, Coverage, ServiceCoverage};
use autopilot::ids::fnv1a;
use std::fmt::Write;
use std::io::IsTerminal;

/// The terminal's style: `width` when given, else `COLUMNS`, else the terminal's own, else 100.
pub fn terminal_style(width: Option<usize>, ascii: bool) -> Style {
    let tty = std::io::stdout().is_terminal();
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    Style {
        unicode: !ascii && (locale.contains("utf-8") || locale.contains("utf8")),
        colour: tty && std::env::var_os("NO_COLOR").is_none(),
        width: width
            .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
            .or_else(|| tty.then(terminal_width).flatten())
            .unwrap_or(100)
            .max(20),
    }
}

/// The width of the terminal on stdout.
fn terminal_width() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct it is given, which outlives the call.
    let done = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (done == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// Seconds since the epoch as `2026-12-05 22:40 UTC` (days to a civil date: H. Hinnant's
/// algorithm).
pub fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let (hour, minute) = (secs % 86_400 / 3_600, secs % 3_600 / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// HTML's special characters as entities.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The anchor of a finding on the page.
fn anchor(fingerprint: &str) -> String {
    format!("f-{:016x}", fnv1a(fingerprint.as_bytes()))
}

fn state_name(state: CellState) -> (&'static str, &'static str, &'static str) {
    // class, mark, meaning
    match state {
        CellState::Served => ("served", "●", "served"),
        CellState::Unserved => ("unserved", "✗", "in an AZ the service does not serve"),
        CellState::Blackhole => (
            "blackhole",
            "⊘",
            "blackhole: no healthy target while cross-zone is off",
        ),
        CellState::Uncovered => (
            "uncovered",
            "○",
            "the VPC uses this AZ, the endpoint is not in it",
        ),
        CellState::NotAudited => ("not-audited", "?", "not audited"),
        CellState::Absent => ("absent", "·", "not in this AZ"),
    }
}

const LEGEND: [CellState; 6] = [
    CellState::Served,
    CellState::Unserved,
    CellState::Blackhole,
    CellState::Uncovered,
    CellState::NotAudited,
    CellState::Absent,
];

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1b1b1b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 2px;font-family:ui-monospace,monospace}
.meta,.sub{color:#555;margin:0 0 8px}.services{display:grid;grid-template-columns:repeat(auto-fill,minmax(620px,1fr));gap:16px;margin:16px 0}
.service{border:1px solid #ddd;border-radius:6px;padding:12px 16px;min-width:0}
.service.problem{border-left:6px solid #c62828}.grid{overflow-x:auto}svg text{font:12px ui-monospace,Menlo,Consolas,monospace}
svg .head{fill:#555}svg .az{font-weight:600}svg .state-blackhole{fill:#b71c1c;font-weight:700}svg .state-not-served{fill:#777}
.cell rect{stroke:#fff;stroke-width:1}.cell text{fill:#fff;text-anchor:middle;dominant-baseline:central;font-size:12px}
.served rect{fill:#2e7d32}.unserved rect{fill:#c62828}.blackhole rect{fill:#4a0000}.uncovered rect{fill:#f9a825}
.uncovered text{fill:#1b1b1b}.not-audited rect{fill:#9e9e9e}.absent rect{fill:#f0f0f0}.absent text{fill:#999}
table{border-collapse:collapse;margin:8px 0}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
td.id{font-family:ui-monospace,monospace}tr.problem td{color:#b71c1c}
.legend span{display:inline-block;margin-right:14px}.legend svg{vertical-align:middle;margin-right:4px}
li.critical{color:#b71c1c}li.warning{color:#8a5a00}li .check{font-family:ui-monospace,monospace}
li:target{background:#fff3c4}ol.findings{padding-left:20px;margin:6px 0 0}
";

/// Pixels: a character of the monospace labels, a cell, a row.
const CHAR: usize = 8;
const CELL: usize = 22;
const ROW: usize = 24;

/// The whole picture as one HTML document. `caption` says where and when it was read.
pub fn html(c: &Coverage, caption: &str) -> String {
    let problems = c.services.iter().filter(|s| problem(s)).count();
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>PrivateLink AZ coverage</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>PrivateLink AZ coverage</h1>\n<p class=\"meta\">{} · {} endpoint service(s), {} with a problem · AZ IDs, not names: names differ per account</p>\n",
        esc(caption),
        c.services.len(),
        problems
    );
    out.push_str("<p class=\"legend\">");
    for state in LEGEND {
        let (class, mark, meaning) = state_name(state);
        let _ = write!(
            out,
            "<span><svg width=\"{CELL}\" height=\"{CELL}\" aria-hidden=\"true\"><g class=\"cell {class}\"><rect width=\"{CELL}\" height=\"{CELL}\" rx=\"3\"/><text x=\"{}\" y=\"{}\">{mark}</text></g></svg>{}</span>",
            CELL / 2,
            CELL / 2,
            esc(meaning)
        );
    }
    out.push_str("</p>\n");
    if c.services.is_empty() {
        out.push_str("<p>No endpoint service to draw.</p>\n");
    }
    out.push_str("<main class=\"services\">\n");
    for s in &c.services {
        service(&mut out, s);
    }
    out.push_str("</main>\n");
    if !c.not_audited.is_empty() {
        out.push_str("<section class=\"not-audited\">\n<h3>Services not audited</h3>\n<ul>\n");
        for n in &c.not_audited {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&n.resource),
                esc(&n.reason)
            );
        }
        out.push_str("</ul>\n</section>\n");
    }
    if !c.unreachable.is_empty() {
        out.push_str(
            "<section class=\"unreachable\">\n<h3>Consumer accounts not read</h3>\n<ul>\n",
        );
        for u in &c.unreachable {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&u.account),
                esc(&u.problem)
            );
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn problem(s: &ServiceCoverage) -> bool {
    s.problems() > 0 || s.consumers.iter().any(|c| c.problem())
}

fn service(out: &mut String, s: &ServiceCoverage) {
    let _ = writeln!(
        out,
        "<section class=\"service{}\" id=\"{}\" data-service=\"{}\">\n<h2>{}</h2>\n<p class=\"sub\">provider {} · {} NLB(s) · {} target group(s), cross-zone {}</p>",
        if problem(s) { " problem" } else { "" },
        esc(&s.service_id),
        esc(&s.service_id),
        esc(&s.service_id),
        esc(&s.account),
        s.load_balancers.len(),
        s.target_groups.len(),
        s.cross_zone_text()
    );
    // The provider's columns, as wide as their longest text.
    let targets: Vec<String> = s.azs.iter().map(|r| r.targets_text()).collect();
    let width_of = |texts: &mut dyn Iterator<Item = usize>, head: &str| {
        texts.chain([head.len()]).max().unwrap_or(0) * CHAR + 16
    };
    let az_w = width_of(&mut s.azs.iter().map(|r| r.az_id.len()), "AZ ID");
    let nlb_w = width_of(&mut std::iter::empty(), "NLB");
    let tg_w = width_of(&mut targets.iter().map(String::len), "healthy/all");
    let st_w = width_of(&mut std::iter::empty(), "not served");
    let x0 = az_w + nlb_w + tg_w + st_w;
    let width = x0 + CELL * s.consumers.len().max(1) + 8;
    let height = ROW * (s.azs.len() + 1) + 4;
    let _ = write!(
        out,
        "<div class=\"grid\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"AZ coverage of {}\">",
        esc(&s.service_id)
    );
    let y_text = |row: usize| ROW * row + ROW / 2 + 4;
    for (x, head) in [
        (0, "AZ ID"),
        (az_w, "NLB"),
        (az_w + nlb_w, "healthy/all"),
        (az_w + nlb_w + tg_w, "state"),
    ] {
        let _ = write!(
            out,
            "<text class=\"head\" x=\"{x}\" y=\"{}\">{head}</text>",
            y_text(0)
        );
    }
    for i in 0..s.consumers.len() {
        let _ = write!(
            out,
            "<text class=\"head\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x0 + CELL * i + CELL / 2,
            y_text(0),
            i + 1
        );
    }
    for (r, row) in s.azs.iter().enumerate() {
        let (state_class, state_text) = match row.state {
            AzState::Served => ("served", "served"),
            AzState::Blackhole => ("blackhole", "blackhole"),
            AzState::NotServed => ("not-served", "not served"),
        };
        let y = y_text(r + 1);
        let _ = write!(
            out,
            "<g class=\"az-row\" data-az=\"{}\" data-state=\"{state_class}\"><text class=\"az\" x=\"0\" y=\"{y}\">{}</text><text x=\"{az_w}\" y=\"{y}\">{}</text><text x=\"{}\" y=\"{y}\">{}</text>",
            esc(&row.az_id),
            esc(&row.az_id),
            if row.enabled { "on" } else { "off" },
            az_w + nlb_w,
            esc(&targets[r]),
        );
        let state = format!(
            "<text class=\"state-{state_class}\" x=\"{}\" y=\"{y}\">{state_text}</text>",
            az_w + nlb_w + tg_w
        );
        match row.findings.first() {
            Some(f) => {
                let _ = write!(out, "<a href=\"#{}\">{state}</a>", anchor(f));
            }
            None => out.push_str(&state),
        }
        out.push_str("</g>");
        for (i, consumer) in s.consumers.iter().enumerate() {
            let cell = &consumer.cells[r];
            let (class, mark, meaning) = state_name(cell.state);
            let title = format!(
                "{} ({}) in {}: {}",
                consumer.endpoint_id,
                consumer.account,
                row.az_id,
                consumer.not_audited.as_deref().unwrap_or(meaning)
            );
            let body = format!(
                "<g class=\"cell {class}{}\" data-az=\"{}\" data-endpoint=\"{}\" data-state=\"{class}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{CELL}\" height=\"{CELL}\" rx=\"3\"/><text x=\"{}\" y=\"{}\">{mark}</text></g>",
                if cell.state.problem() { " problem" } else { "" },
                esc(&row.az_id),
                esc(&consumer.endpoint_id),
                esc(&title),
                x0 + CELL * i,
                ROW * (r + 1) + 1,
                x0 + CELL * i + CELL / 2,
                ROW * (r + 1) + 1 + CELL / 2,
            );
            match cell.findings.first() {
                Some(f) => {
                    let _ = write!(out, "<a href=\"#{}\">{body}</a>", anchor(f));
                }
                None => out.push_str(&body),
            }
        }
    }
    out.push_str("</svg></div>\n");
    if !s.consumers.is_empty() {
        out.push_str("<table class=\"consumers\"><thead><tr><th>#</th><th>account</th><th>VPC</th><th>endpoint</th><th></th></tr></thead><tbody>\n");
        for (i, c) in s.consumers.iter().enumerate() {
            let _ = writeln!(
                out,
                "<tr{}><td>{}</td><td class=\"id\">{}</td><td class=\"id\">{}</td><td class=\"id\">{}</td><td>{}</td></tr>",
                if c.problem() {
                    " class=\"problem\""
                } else {
                    ""
                },
                i + 1,
                esc(&c.account),
                esc(c.vpc_id.as_deref().unwrap_or("-")),
                esc(&c.endpoint_id),
                c.not_audited
                    .as_deref()
                    .map(|why| format!("not audited: {}", esc(why)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<ol class=\"findings\">\n");
    for f in &s.findings {
        let _ = writeln!(
            out,
            "<li id=\"{}\" class=\"{}\"><strong>{}</strong> <span class=\"check\">{}</span> {}</li>",
            anchor(&f.fingerprint),
            f.severity.as_str(),
            f.severity.as_str(),
            f.check.as_str(),
            esc(&f.title)
        );
    }
    out.push_str("</ol>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_685_400), "2026-11-26 09:30 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn markup_in_an_id_is_text() {
        assert_eq!(esc("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn an_empty_picture_is_still_a_page() {
        let page = html(&Coverage::default(), "us-east-1");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("No endpoint service to draw."));
        assert!(
            !page.contains("<script") && !page.contains("src=") && !page.contains("href=\"http")
        );
    }
}
