//! Error text shared by the rooms that talk HTTP (the probes and the LocalAPI client).

use std::error::Error as StdError;

/// The whole `source()` chain on one line. hyper's top-level messages are terse ("connection
/// closed before message completed"); the sources say what actually happened.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
