//! The one way request input enters the web layer: JSON bodies ([`JsonBody`]), query strings
//! ([`QueryParams`]) and page forms (through [`crate::web::csrf::CsrfForm`], which uses
//! [`parse_form`]). A value of the wrong type, a `null`, a missing or unknown field is refused
//! with a 422 whose body lists `{field, message}` with the field's path (`slot.start`,
//! `locations[0].zip`), never serde's "at line 1 column 10". A body that is not JSON at all is
//! a 400 (415 for another content type, 413 above 1 MiB) that says so.
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::web::error::{ApiError, FieldError};

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// Longest piece of client input quoted back in a message or a log line.
pub const QUOTE_MAX: usize = 120;

/// Shortens `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push_str("… (truncated)");
    out
}

/// A JSON request body decoded into `T`, or a 4xx naming what was wrong.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req.content_type().to_ascii_lowercase();
        let json_type = content_type == "application/json"
            || (content_type.starts_with("application/") && content_type.ends_with("+json"));
        let length = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json_type {
                return Err(ApiError::UnsupportedMediaType(
                    "the body is not JSON: send it with Content-Type: application/json".into(),
                ));
            }
            if length.is_some_and(|l| l > MAX_JSON_BYTES) {
                return Err(too_large());
            }
            let bytes = bytes.await.map_err(|_| too_large())?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the body is larger than {} KiB",
        MAX_JSON_BYTES / 1024
    ))
}

/// Decodes a JSON document into `T`, naming the field of the first bad value. A string holding
/// a NUL character is refused too: PostgreSQL cannot store one, and no field of ours needs it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if contains_nul_escape(bytes)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_path(&v, String::new())
    {
        return Err(nul_error(if path.is_empty() {
            "body".into()
        } else {
            path
        }));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let inner = e.inner();
            if inner.is_data() {
                return Err(field_error(&e.path().to_string(), &inner.to_string()));
            }
            return Err(not_json(inner));
        }
    };
    de.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

fn not_json(e: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        message: format!(
            "the body is not JSON: {}",
            truncate(&e.to_string(), QUOTE_MAX)
        ),
    }
}

/// A query string decoded into `T`, or a 422 naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T> QueryParams<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for QueryParams<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_form(req.query_string().as_bytes()).map(QueryParams))
    }
}

fn contains_nul_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(6)
        .any(|w| w[0] == b'\\' && (w[1] | 0x20) == b'u' && &w[2..] == b"0000")
}

/// The path of the first string (or key) in `v` holding a NUL character.
fn nul_path(v: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(p)
            } else {
                nul_path(x, p)
            }
        }),
        _ => None,
    }
}

fn nul_error(field: String) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: truncate(&field, QUOTE_MAX),
        message: "must not contain a NUL character".into(),
    }])
}

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body).
pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some((k, _)) =
        form_urlencoded::parse(bytes).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(nul_error(k.into_owned()));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize::<_, T>(de)
        .map_err(|e| field_error(&e.path().to_string(), &e.inner().to_string()))
}

/// Turns serde's message about the value at `path` into a [`FieldError`] in our words.
fn field_error(path: &str, raw: &str) -> ApiError {
    let raw = raw.split(" at line ").next().unwrap_or(raw);
    let parent = if path == "." || path == "?" { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    let (field, message) = if let Some(name) = backticked(raw, "missing field `") {
        (join(&name), "is required".to_owned())
    } else if let Some(name) = backticked(raw, "unknown field `") {
        (join(&name), "is not a known field".to_owned())
    } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let (got, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        let got = if got == "null" { "null" } else { got };
        (
            if parent.is_empty() {
                "body".to_owned()
            } else {
                parent.to_owned()
            },
            format!("must be {expected} (got {})", truncate(got, QUOTE_MAX)),
        )
    } else {
        (
            if parent.is_empty() {
                "body".to_owned()
            } else {
                parent.to_owned()
            },
            truncate(raw, QUOTE_MAX),
        )
    };
    ApiError::Validation(vec![FieldError { field, message }])
}

fn backticked(raw: &str, prefix: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?;
    rest.split('`').next().map(|s| truncate(s, QUOTE_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Slot {
        start: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        trade: String,
        count: Option<u32>,
        slot: Option<Slot>,
        ids: Option<Vec<i64>>,
    }

    fn fields(e: ApiError) -> Vec<(String, String)> {
        match e {
            ApiError::Validation(f) => f.into_iter().map(|f| (f.field, f.message)).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let e = parse_json::<Body>(br#"{"trade":"x","slot":{"start":5}}"#).unwrap_err();
        assert_eq!(
            fields(e),
            vec![(
                "slot.start".into(),
                "must be a string (got integer `5`)".into()
            )]
        );
        let e = parse_json::<Body>(br#"{"trade":"x","ids":[1,"a"]}"#).unwrap_err();
        assert_eq!(fields(e)[0].0, "ids[1]");
    }

    #[test]
    fn null_and_missing_fields_are_named() {
        let e = parse_json::<Body>(br#"{"trade":null}"#).unwrap_err();
        assert_eq!(
            fields(e)[0],
            ("trade".into(), "must be a string (got null)".into())
        );
        let e = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(fields(e)[0], ("trade".into(), "is required".into()));
        let e = parse_json::<Body>(br#"{"trade":"x","slot":{}}"#).unwrap_err();
        assert_eq!(fields(e)[0], ("slot.start".into(), "is required".into()));
    }

    #[test]
    fn numbers_out_of_range_are_named() {
        let e = parse_json::<Body>(br#"{"trade":"x","count":-1}"#).unwrap_err();
        assert_eq!(fields(e)[0].0, "count");
        let e = parse_json::<Body>(br#"{"trade":"x","count":1e400}"#).unwrap_err();
        assert!(matches!(
            e,
            ApiError::BadRequest { .. } | ApiError::Validation(_)
        ));
    }

    #[test]
    fn broken_json_says_it_is_not_json() {
        for raw in [&b"{"[..], b"nope", b"{\"trade\":\"x\"} trailing", b""] {
            match parse_json::<Body>(raw).unwrap_err() {
                ApiError::BadRequest { message } => {
                    assert!(message.starts_with("the body is not JSON"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_huge_value_is_not_quoted_whole() {
        let big = "x".repeat(100_000);
        let raw = format!(r#"{{"trade":"x","count":"{big}"}}"#);
        let f = fields(parse_json::<Body>(raw.as_bytes()).unwrap_err());
        assert!(f[0].1.len() < 300, "{}", f[0].1.len());
    }

    #[test]
    fn a_nul_character_is_refused_naming_its_field() {
        let e = parse_json::<Body>(br#"{"trade":"x","slot":{"start":"a\u0000b"}}"#).unwrap_err();
        assert_eq!(
            fields(e)[0],
            (
                "slot.start".into(),
                "must not contain a NUL character".into()
            )
        );
        let e = parse_form::<Body>(b"trade=a%00b").unwrap_err();
        assert_eq!(fields(e)[0].0, "trade");
    }

    #[test]
    fn query_strings_name_the_parameter() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            page: Option<u32>,
        }
        let e = parse_form::<Q>(b"page=abc").unwrap_err();
        assert_eq!(fields(e)[0].0, "page");
        assert!(parse_form::<Q>(b"page=2&other=1").is_ok());
    }
}
