//! The menu-bar app.
pub mod history;
pub mod icons;
pub mod menu;
pub mod state;
