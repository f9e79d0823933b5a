//! The integration harness: the real server on an ephemeral loopback port,
//! over a real SQLite file in a temp dir (or a PostgreSQL schema), a manual
//! clock, and a cookie-keeping "browser" that reads HTML forms the way a
//! person's browser would. One module per concern; the tests import them
//! all with `use crate::harness::*`.

mod app;
mod assertions;
mod backend;
mod browser;
mod faulty_store;
mod fixtures;
mod flow;
mod jwt;
mod logs;
mod requests;
mod rows;

pub use app::*;
pub use assertions::*;
pub use backend::*;
pub use browser::*;
pub use faulty_store::*;
pub use fixtures::*;
pub use flow::*;
pub use jwt::*;
pub use logs::*;
pub use requests::*;
pub use tessera_store::Store;
