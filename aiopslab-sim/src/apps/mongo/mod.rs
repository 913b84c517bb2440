//! MongoDB: the data directories' contents ([`data`]), the JavaScript the shells run ([`js`])
//! and the `mongo` / `mongosh` shells ([`shell`]).

pub mod data;
pub mod js;
pub mod shell;
