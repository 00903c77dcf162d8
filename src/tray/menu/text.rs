//! Text layout for menu labels: a menu item cannot wrap or shorten itself, so lines are cut,
//! wrapped and dated here. Pure string functions.

use chrono::Datelike;

use crate::tray::view::Wall;

/// Menus wider than this are hard to read; evidence is cut with an ellipsis.
pub const MAX_LABEL: usize = 76;

/// Word-wraps `s` to lines of at most `width` characters, at most `max` lines (the last one cut
/// with an ellipsis): a menu item cannot wrap by itself.
pub fn wrap(s: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            let keep: String = last.chars().take(width.saturating_sub(1)).collect();
            *last = format!("{}…", keep.trim_end());
        }
    }
    lines.into_iter().map(|l| clip(&l)).collect()
}

/// "14:02" today, "Mon 14:02" this week, "12 May 14:02" before.
pub fn when(t: Wall, now: Wall) -> String {
    let t_local = t.with_timezone(&now.timezone());
    let days = now
        .date_naive()
        .signed_duration_since(t_local.date_naive())
        .num_days();
    if days == 0 {
        t_local.format("%H:%M").to_string()
    } else if (1..7).contains(&days) {
        t_local.format("%a %H:%M").to_string()
    } else if t_local.year() == now.year() {
        t_local.format("%-d %b %H:%M").to_string()
    } else {
        t_local.format("%-d %b %Y %H:%M").to_string()
    }
}

/// A path with the home directory shown as `~`, so it fits the menu.
pub fn tilde(p: &std::path::Path) -> String {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        && let Ok(rest) = p.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    p.display().to_string()
}

pub fn duration_label(secs: u64) -> String {
    match secs {
        s if s < 60 || s % 60 != 0 => format!("{s} s"),
        s => format!("{} min", s / 60),
    }
}

/// Cuts a label to [`MAX_LABEL`] characters (not bytes: evidence may be any UTF-8).
pub fn clip(s: &str) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= MAX_LABEL {
        one_line
    } else {
        let mut out: String = one_line.chars().take(MAX_LABEL - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tray::state::tests::wall;

    #[test]
    fn wraps_at_words_and_cuts_the_last_line() {
        assert_eq!(wrap("a bb ccc", 4, 3), vec!["a bb", "ccc"]);
        assert_eq!(wrap("one two three four", 8, 2), vec!["one two", "three…"]);
        assert!(wrap("", 10, 3).is_empty());
    }

    #[test]
    fn when_formats_relative_to_today() {
        let now = wall(15, 0, 0);
        assert_eq!(when(wall(14, 2, 0), now), "14:02");
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(1), now),
            "Sun 14:02"
        );
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(30), now),
            "12 Apr 14:02"
        );
        assert_eq!(
            when(wall(14, 2, 0) - chrono::Duration::days(400), now),
            "7 Apr 2024 14:02"
        );
    }
}
