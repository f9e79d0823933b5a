//! Reading and rewriting the URLs a browser is sent to: `Location` headers
//! and query parameters.

/// The `Location` header of a response ("" when there is none, so a
/// comparison with the expected location fails with both values shown).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii location").to_owned())
        .unwrap_or_default()
}

/// The query parameters of a URL (or of a `Location` header).
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The first query parameter `name` of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    query_params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Replaces (or with `None` removes) one parameter of a query string.
pub fn with_param(query: &str, name: &str, value: Option<&str>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != name {
            out.append_pair(&k, &v);
        }
    }
    if let Some(v) = value {
        out.append_pair(name, v);
    }
    out.finish()
}
