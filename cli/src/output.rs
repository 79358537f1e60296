//! What the CLI prints: a table for people or one JSON document for scripts on stdout; progress
//! and errors on stderr.

use serde_json::Value;
use std::io::Write;

pub struct Output {
    json: bool,
}

/// A table: a title, column names and rows of cells.
pub struct Table {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// One line of progress, on stderr.
    pub fn progress(&self, line: &str) {
        eprintln!("{line}");
    }

    /// An error on stderr (and as JSON on stdout with `--output json`).
    pub fn fail(&self, message: &str) {
        eprintln!("error: {message}");
        if self.json {
            self.document(&serde_json::json!({ "error": message }));
        }
    }

    /// The JSON document (with `--output json`).
    pub fn document(&self, doc: &Value) {
        let text = serde_json::to_string_pretty(doc).unwrap_or_default();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
    }

    /// Text as it is (without `--output json`).
    pub fn text(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{text}");
    }

    /// Tables and closing lines (without `--output json`).
    pub fn tables(&self, tables: &[Table], closing: &[String]) {
        let mut stdout = std::io::stdout().lock();
        for table in tables {
            let _ = write!(stdout, "{}", render(table));
        }
        for line in closing {
            let _ = writeln!(stdout, "{line}");
        }
    }
}

/// Columns padded to their widest cell (in characters); an empty table says so.
pub fn render(table: &Table) -> String {
    let mut out = format!("{}\n", table.title);
    if table.rows.is_empty() {
        out.push_str("  (none)\n\n");
        return out;
    }
    let widths: Vec<usize> = (0..table.columns.len())
        .map(|i| {
            table
                .rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([table.columns[i].len()])
                .max()
                .unwrap_or_default()
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(table.columns.clone()));
    for row in &table.rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_an_empty_table_says_so() {
        let t = Table {
            title: "Pending connections".into(),
            columns: vec!["endpoint", "decision"],
            rows: vec![
                vec!["vpce-1".into(), "accept".into()],
                vec!["vpce-22222".into(), "reject".into()],
            ],
        };
        assert_eq!(
            render(&t),
            "Pending connections\n  endpoint    decision\n  vpce-1      accept\n  vpce-22222  reject\n\n"
        );
        let empty = Table { rows: vec![], ..t };
        assert_eq!(render(&empty), "Pending connections\n  (none)\n\n");
    }
}
