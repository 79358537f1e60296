//! The coverage picture as text: a grid per service, AZ IDs down, consumers across (numbered,
//! with a key below), as wide as the terminal allows and wrapped into several grids past it.
//! Plain ASCII where the terminal may not show Unicode, colour only where asked (a TTY).

use super::{AzState, CellState, Consumer, Coverage, ServiceCoverage};
use std::fmt::Write;

/// How the text is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub unicode: bool,
    pub colour: bool,
    /// Columns available.
    pub width: usize,
}

impl Style {
    /// What a Slack code block shows well: Unicode, no colour, narrow enough for a phone.
    pub const SLACK: Style = Style {
        unicode: true,
        colour: false,
        width: 64,
    };
}

/// A cell's mark, and the colour a terminal shows it in.
fn mark(state: CellState, style: &Style) -> (&'static str, &'static str) {
    let (unicode, ascii, colour) = match state {
        CellState::Served => ("●", "+", "32"),
        CellState::Unserved => ("✗", "x", "1;31"),
        CellState::Blackhole => ("⊘", "!", "1;31"),
        CellState::Uncovered => ("○", "-", "33"),
        CellState::NotAudited => ("?", "?", "90"),
        CellState::Absent => ("·", ".", "90"),
    };
    (if style.unicode { unicode } else { ascii }, colour)
}

const STATES: [(CellState, &str); 6] = [
    (CellState::Served, "served"),
    (CellState::Unserved, "AZ not served"),
    (CellState::Blackhole, "blackhole"),
    (CellState::Uncovered, "VPC uses the AZ, endpoint not in it"),
    (CellState::NotAudited, "not audited"),
    (CellState::Absent, "not here"),
];

fn paint(text: &str, colour: &str, style: &Style) -> String {
    if style.colour {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn pad(text: &str, width: usize) -> String {
    format!(
        "{text}{}",
        " ".repeat(width.saturating_sub(text.chars().count()))
    )
}

/// The legend: each mark and what it means, in lines within the width.
pub fn legend(style: &Style) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (state, meaning) in STATES {
        let (m, colour) = mark(state, style);
        let width = meaning.chars().count() + 2;
        if line > 0 && line + 2 + width > style.width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push_str("  ");
            line += 2;
        }
        let _ = write!(out, "{} {meaning}", paint(m, colour, style));
        line += width;
    }
    out.push('\n');
    out
}

/// Every service of the picture, what was not audited, and the legend.
pub fn estate(c: &Coverage, style: &Style) -> String {
    let mut out = String::new();
    if c.services.is_empty() {
        out.push_str("No endpoint service to draw.\n\n");
    }
    for s in &c.services {
        out.push_str(&service(s, style, usize::MAX));
        let _ = writeln!(out, "  findings:");
        if s.findings.is_empty() {
            let _ = writeln!(out, "    (none)");
        }
        for f in &s.findings {
            let _ = writeln!(
                out,
                "    {:<8}  {:<17}  {}",
                f.severity.as_str(),
                f.check.as_str(),
                f.title
            );
        }
        out.push('\n');
    }
    if !c.not_audited.is_empty() {
        out.push_str("Services not audited:\n");
        for n in &c.not_audited {
            let _ = writeln!(out, "  {}: {}", n.resource, n.reason);
        }
        out.push('\n');
    }
    if !c.unreachable.is_empty() {
        out.push_str("Consumer accounts not read:\n");
        for u in &c.unreachable {
            let _ = writeln!(out, "  {}: {}", u.account, u.problem);
        }
        out.push('\n');
    }
    out.push_str(&legend(style));
    out
}

/// One service's grid and its consumers' key, at most `consumers` of them (the rest counted).
pub fn service(s: &ServiceCoverage, style: &Style, consumers: usize) -> String {
    let bar = if style.unicode { "│" } else { "|" };
    let dot = if style.unicode { "·" } else { "-" };
    let mut out = format!(
        "{} {dot} provider {} {dot} {} NLB(s), {} target group(s), cross-zone {}\n",
        s.service_id,
        s.account,
        s.load_balancers.len(),
        s.target_groups.len(),
        s.cross_zone_text()
    );
    // The provider's columns: AZ ID, NLB enabled, healthy/registered targets per group, state.
    let state = |row: &super::ProviderAz| match row.state {
        AzState::Served => ("served", "32"),
        AzState::Blackhole => ("blackhole", "1;31"),
        AzState::NotServed => ("not served", "90"),
    };
    let heads = ["AZ ID", "NLB", "healthy/all", "state"];
    let rows: Vec<[String; 4]> = s
        .azs
        .iter()
        .map(|r| {
            [
                r.az_id.clone(),
                if r.enabled { "on" } else { "off" }.into(),
                r.targets_text(),
                state(r).0.into(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([heads[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // "  " and the four columns two apart, then " │".
    let left = 2 + widths.iter().sum::<usize>() + 2 * 3 + 2;
    let shown: Vec<&Consumer> = s.consumers.iter().take(consumers).collect();
    let cell = shown.len().to_string().len() + 1;
    let per_grid = (style.width.saturating_sub(left) / cell).max(1);
    let provider_part = |cols: [&str; 4], colour: Option<&str>| {
        let mut line = format!(
            "  {}  {}  {}  ",
            pad(cols[0], widths[0]),
            pad(cols[1], widths[1]),
            pad(cols[2], widths[2])
        );
        let st = pad(cols[3], widths[3]);
        line.push_str(&match colour {
            Some(c) => paint(&st, c, style),
            None => st,
        });
        line
    };
    let chunks: Vec<&[&Consumer]> = if shown.is_empty() {
        vec![&[]]
    } else {
        shown.chunks(per_grid).collect()
    };
    for (n, chunk) in chunks.iter().enumerate() {
        let first = n * per_grid;
        let mut head = provider_part(heads, None);
        let _ = write!(head, " {bar}");
        if chunk.is_empty() {
            head.push_str(" (no consumer endpoint)");
        }
        for i in 0..chunk.len() {
            head.push_str(&format!("{:>cell$}", first + i + 1));
        }
        out.push_str(head.trim_end());
        out.push('\n');
        for (r, row) in s.azs.iter().enumerate() {
            let cols = [
                rows[r][0].as_str(),
                rows[r][1].as_str(),
                rows[r][2].as_str(),
                rows[r][3].as_str(),
            ];
            let mut line = provider_part(cols, Some(state(row).1));
            let _ = write!(line, " {bar}");
            for c in chunk.iter() {
                let (m, colour) = mark(c.cells[r].state, style);
                line.push_str(&" ".repeat(cell - 1));
                line.push_str(&paint(m, colour, style));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    if !shown.is_empty() {
        let number = shown.len().to_string().len();
        let vpc = shown
            .iter()
            .map(|c| c.vpc_id.as_deref().unwrap_or("-").len())
            .max()
            .unwrap_or(1);
        for (i, c) in shown.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {:>number$}  {}  {}  {}{}",
                i + 1,
                c.account,
                pad(c.vpc_id.as_deref().unwrap_or("-"), vpc),
                c.endpoint_id,
                match &c.not_audited {
                    Some(why) => format!("  not audited: {why}"),
                    None => String::new(),
                }
            );
        }
    }
    if s.consumers.len() > shown.len() {
        let _ = writeln!(
            out,
            "  … and {} more consumer endpoint(s): autopilot audit --matrix --service {}",
            s.consumers.len() - shown.len(),
            s.service_id
        );
    }
    out
}

/// One service's grid for a message: Slack's style, the consumers with problems first and as
/// many as fit in `budget` characters with the legend.
pub fn compact(s: &ServiceCoverage, budget: usize) -> String {
    let style = Style::SLACK;
    let legend = legend(&style);
    let mut shown = s.consumers.len();
    loop {
        let text = format!("{}{legend}", service(s, &style, shown));
        if text.chars().count() <= budget || shown == 0 {
            return text;
        }
        shown = shown.saturating_sub((shown / 4).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, tests::estate};
    use super::*;
    use crate::availability_zones::analysis::analyse;

    const ASCII: Style = Style {
        unicode: false,
        colour: false,
        width: 100,
    };

    #[test]
    fn a_service_as_a_grid_of_az_ids_against_numbered_consumers() {
        let s = estate();
        let cov = build(&s, &analyse(&s));
        let text = service(&cov.services[0], &ASCII, usize::MAX);
        assert_eq!(
            text,
            "vpce-svc-1 - provider 123456789012 - 1 NLB(s), 1 target group(s), cross-zone off\n\
             \x20 AZ ID     NLB  healthy/all  state      | 1 2 3\n\
             \x20 use1-az1  on   2/2          served     | - + ?\n\
             \x20 use1-az2  on   0/1          blackhole  | ! . ?\n\
             \x20 use1-az4  off  0/0          not served | x . ?\n\
             \x20 1  111111111111  vpc-1  vpce-1\n\
             \x20 2  222222222222  vpc-2  vpce-2\n\
             \x20 3  333333333333  -      vpce-far  not audited: an endpoint in eu-west-1\n"
        );
    }

    #[test]
    fn a_narrow_terminal_wraps_the_consumers_into_several_grids() {
        let s = estate();
        let cov = build(&s, &analyse(&s));
        let narrow = Style { width: 46, ..ASCII };
        let text = service(&cov.services[0], &narrow, usize::MAX);
        let heads: Vec<&str> = text.lines().filter(|l| l.contains("AZ ID")).collect();
        assert_eq!(heads.len(), 2, "{text}");
        assert!(
            heads[0].ends_with("| 1 2") && heads[1].ends_with("| 3"),
            "{text}"
        );
        let grid = text.lines().filter(|l| l.contains(" | "));
        assert!(grid.clone().all(|l| l.chars().count() <= 46), "{text}");
    }

    #[test]
    fn colour_only_when_asked_and_unicode_marks() {
        let s = estate();
        let cov = build(&s, &analyse(&s));
        let plain = service(&cov.services[0], &Style::SLACK, usize::MAX);
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("⊘") && plain.contains("✗") && plain.contains("│"));
        let coloured = service(
            &cov.services[0],
            &Style {
                colour: true,
                ..Style::SLACK
            },
            usize::MAX,
        );
        assert!(coloured.contains("\x1b[1;31m⊘\x1b[0m"), "{coloured}");
    }

    #[test]
    fn compact_keeps_to_its_budget_and_counts_what_it_leaves_out() {
        let mut s = estate();
        let template = s.endpoints[1].clone();
        for n in 0..300 {
            let mut e = template.clone();
            e.id = format!("vpce-{n:017x}");
            s.endpoints.push(e);
        }
        let cov = build(&s, &analyse(&s));
        let text = compact(&cov.services[0], 2_000);
        assert!(text.chars().count() <= 2_000, "{}", text.len());
        assert!(
            text.contains(
                "more consumer endpoint(s): autopilot audit --matrix --service vpce-svc-1"
            )
        );
        assert!(
            text.contains("  1  111111111111  vpc-1"),
            "the problem consumer is kept: {text}"
        );
        assert!(text.ends_with(&legend(&Style::SLACK)));
    }
}
