//! The menu as plain data, built from state in one function ([`build`]).
//!
//! Nothing here touches GTK or AppKit: `render.rs` turns the model into muda items, and the
//! event loop looks up what a click means through the item's id ([`Model::action`]) and routes it
//! by its group ([`MenuAction`]). Keeping the model pure is what lets every line of the menu be a
//! unit test.
//!
//! The rooms: [`model`] (nodes and actions), `build` (status, checks, fixes, history), `confirm`
//! (the write action in progress, and the text of its confirmation dialog), `targets` (a submenu per other
//! target), `settings` (the Settings submenu) and `text` (labels cut, wrapped and dated to fit a
//! menu). All of them read `view.rs`, nothing
//! else of the workers. Which write actions a cause offers is decided in `fix::offer`.

mod build;
pub mod confirm;
pub mod model;
mod settings;
mod targets;
mod text;

#[cfg(test)]
mod tests;

pub use build::Input;
pub use model::{Key, MenuAction, Model, Node, UiAction, shortcut};

/// Builds the menu, top to bottom: the one place that decides what the menu says and in which
/// order. While a plan is read or a fix runs every write item is disabled, so two never run at
/// once.
pub fn build(input: Input<'_>) -> Model {
    let mut items = build::status(&input);
    items.extend(build::checks(input.view));
    items.push(Node::Separator);
    items.push(build::diagnose(input.view));
    items.push(Node::Separator);
    items.extend(confirm::section(input.actions));
    items.extend(build::fixes(input.view, input.actions));
    items.extend(targets::sections(input.view));
    items.push(Node::Separator);
    items.push(build::history(input.history, input.now));
    items.push(settings::submenu(
        input.settings,
        input.view.diagnosis.as_ref(),
        input.actions,
    ));
    items.push(Node::Separator);
    items.push(Node::act("quit", "Quit Serve Doctor", UiAction::Quit));
    Model { items }
}
