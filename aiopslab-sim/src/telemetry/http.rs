//! Small HTTP helpers shared by the telemetry endpoints: form parsing and Go-style JSON strings.

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri, header};
use percent_encoding::percent_decode_str;

/// Parameters of a request: URL query first, then an `application/x-www-form-urlencoded` body.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    /// Collects the URL query and a form body (when the content type says so).
    pub fn from_request(uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Params {
        let mut pairs = Vec::new();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        // Go's FormValue prefers body values over URL values: put the body first.
        if is_form && let Ok(text) = std::str::from_utf8(body) {
            pairs.extend(parse_form(text));
        }
        if let Some(q) = uri.query() {
            pairs.extend(parse_form(q));
        }
        Params(pairs)
    }

    /// The first value of `name` (empty when absent, as Go's `FormValue`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes `a=1&b=x+y` into pairs.
pub(crate) fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// A JSON string literal escaped as Go's `encoding/json` writes it (HTML-safe).
pub(crate) fn json_str(s: &str) -> String {
    let base = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    if !base.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return base;
    }
    base.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
