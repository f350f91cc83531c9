//! Plain-text tables for the terminal, aligned by display width (emoji are two
//! columns wide).

use unicode_width::UnicodeWidthStr;

/// Which way a column's cells lean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// Renders a header and rows; long cells are cut to `max_width` with `…`.
pub(crate) fn render(
    header: &[String],
    rows: &[Vec<String>],
    align: &[Align],
    max_width: usize,
) -> String {
    let cut = |s: &str| -> String {
        if s.width() <= max_width {
            return s.to_string();
        }
        let mut out = String::new();
        for c in s.chars() {
            if out.width() + c.to_string().width() + 1 > max_width {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    };
    let header: Vec<String> = header.iter().map(|h| cut(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cut(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.width());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.width());
            if i > 0 {
                s.push_str("  ");
            }
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
                Align::Right => {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(&header);
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_display_width() {
        let t = render(
            &["Flag".into(), "N".into()],
            &[
                vec!["🔴 Declining".into(), "5".into()],
                vec!["→ Stable".into(), "12".into()],
            ],
            &[Align::Left, Align::Right],
            40,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[2], "🔴 Declining   5");
        assert_eq!(lines[3], "→ Stable      12");
    }
}
