//! What a request brings in — its JSON body, its path, its query string —
//! read within the limits and refused when it is ambiguous. Every refusal
//! is an [`ApiError`], so it answers the API's JSON shape.
//!
//! A body is read only after the token is checked (the `authenticate`
//! middleware runs first), in this order: the content type (415), the size
//! (413, from `Content-Length` before a byte is read, else while reading),
//! the time it takes to arrive (408), a key repeated in any object (400,
//! naming the key and where it is: serde would keep the last silently),
//! then the shape the route takes (400).

use crate::Config;
use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// A request's JSON body, decoded as `T`, or the error the module docs list.
pub(crate) async fn json<T: DeserializeOwned>(
    config: &Config,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    content_type(headers)?;
    let bytes = read(config, headers, body).await?;
    unique_keys(&bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::bad_request(format!("the body is ambiguous: {e}"))
        } else {
            ApiError::bad_request(format!("the body is not the JSON this takes: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not the JSON this takes: {e}")))
}

/// No `Content-Type`, or `application/json` (UTF-8); anything else is 415.
fn content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("(not readable text)");
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let utf8 = parts.all(|p| match p.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    if essence.eq_ignore_ascii_case("application/json") && utf8 {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "this takes a JSON body: send `Content-Type: application/json` (UTF-8), not `{text}`"
            ),
        ))
    }
}

/// The whole body, within the size limit and the body timeout.
async fn read(config: &Config, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    bytes(
        config,
        headers,
        body,
        config.body_limit,
        "send fewer operations per transaction",
    )
    .await
}

/// The whole body, at most `limit` bytes (else 413 with `what_to_do`),
/// within the body timeout.
pub(crate) async fn bytes(
    config: &Config,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what_to_do: &str,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than this service accepts ({limit} bytes); {what_to_do}"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(config.body_timeout, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive whole within {} s; send it at once",
                config.body_timeout.as_secs_f64()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request(format!(
            "the request body could not be read: {e}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Fails on the first object that gives a key twice, naming the key and
/// where the object is (`operations[2].values`); also on any JSON syntax
/// error. Walks the text without building it.
pub(crate) fn unique_keys(bytes: &[u8]) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique(At::Top).deserialize(&mut de)?;
    de.end()
}

/// Where a value sits in the body, as a chain up to the top.
#[derive(Clone, Copy, Debug)]
enum At<'a> {
    Top,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Top => Ok(()),
            At::Key(parent, key) => {
                parent.fmt(f)?;
                if matches!(parent, At::Top) {
                    write!(f, "{key}")
                } else {
                    write!(f, ".{key}")
                }
            }
            At::Index(parent, i) => {
                parent.fmt(f)?;
                write!(f, "[{i}]")
            }
        }
    }
}

/// Visits any JSON value, refusing a repeated key in its objects.
#[derive(Clone, Copy, Debug)]
struct Unique<'a>(At<'a>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Unique(At::Index(&self.0, i)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    /// An object (with `arbitrary_precision`, a number arrives as a map of
    /// one private key, which cannot repeat).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(A::Error::custom(match self.0 {
                    At::Top => format!("the key `{key}` is given twice at the top level"),
                    at => format!("the key `{key}` is given twice in `{at}`"),
                }));
            }
            map.next_value_seed(Unique(At::Key(&self.0, &key)))?;
            seen.insert(key);
        }
        Ok(())
    }
}

/// The query string as name-value pairs, each name at most once (names
/// compared ignoring ASCII case, as view parameters are matched).
#[derive(Debug)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Params, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::bad_request(format!("the query string is not readable: {e}")))?;
        let mut seen = HashSet::new();
        for (name, _) in &pairs {
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(ApiError::bad_request(format!(
                    "the query parameter `{name}` is given twice; give it once"
                )));
            }
        }
        Ok(Params(pairs))
    }
}

/// [`Path`], with its rejection as the API's JSON error.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiPath<T>, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(e) => Err(ApiError::bad_request(format!(
                "this path is not one the route takes: {}",
                e.body_text()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> String {
        match unique_keys(body.as_bytes()) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_repeated_key_is_named_with_where_it_is() {
        assert_eq!(refusal(r#"{"a": 1, "b": [1, {"c": 2.50}], "d": null}"#), "");
        assert!(
            refusal(r#"{"a": 1, "a": 2}"#)
                .starts_with("the key `a` is given twice at the top level"),
            "{}",
            refusal(r#"{"a": 1, "a": 2}"#)
        );
        let nested = refusal(
            r#"{"operations": [{"op": "set"}, {"op": "insert", "values": {"Title": "x", "Title": "y"}}]}"#,
        );
        assert!(
            nested.starts_with("the key `Title` is given twice in `operations[1].values`"),
            "{nested}"
        );
        // Escapes name the same key.
        assert!(refusal(r#"{"row": 1, "\u0072ow": 2}"#).contains("`row`"));
        // Numbers (arbitrary precision) are not objects; a syntax error is still one.
        assert_eq!(refusal(r#"[12345678901234567890123456789.5, -0.1]"#), "");
        assert!(unique_keys(b"{\"a\": ").is_err());
        assert!(unique_keys(b"{} x").is_err());
    }
}
