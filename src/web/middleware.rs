//! Cross-cutting HTTP concerns: request metrics and the request-ID response header.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_actix_web::RequestId;

use crate::metrics::Metrics;
use crate::web::input::truncate;

/// Counts every request by method, matched route pattern and status, and times it.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<actix_web::web::Data<Metrics>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let mut res = next.call(req).await?;
    if let Some(m) = metrics {
        let status = res.status().as_u16().to_string();
        m.http_requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        m.http_duration
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    let request_id = res.request().extensions().get::<RequestId>().copied();
    if let Some(id) = request_id
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// Root span for every request, like tracing-actix-web's default but with the query string
/// left out of `http.target`: continue-setup links carry their single-use token there, and
/// secrets never reach the logs.
pub struct RedactedRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        let (status, error) = match outcome {
            Ok(res) => (
                res.status(),
                res.response().error().map(|e| e.as_response_error()),
            ),
            Err(e) => (
                e.as_response_error().status_code(),
                Some(e.as_response_error()),
            ),
        };
        // Like tracing-actix-web's default, but an error's text is cut short: it can quote a
        // client's megabyte-long value, and one request must not write a megabyte log line.
        if let Some(e) = error {
            span.record(
                "exception.message",
                tracing::field::display(truncate(&e.to_string(), LOGGED_ERROR_MAX)),
            );
            span.record(
                "exception.details",
                tracing::field::display(truncate(&format!("{e:?}"), LOGGED_ERROR_MAX)),
            );
        }
        span.record("http.status_code", i64::from(status.as_u16()));
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        let status = status.as_u16();
        // The access log line; it inherits the span's method, route, path and request_id.
        if status >= 500 {
            tracing::warn!(parent: &span, status, "request finished");
        } else {
            tracing::info!(parent: &span, status, "request finished");
        }
    }
}

/// Longest error text written to the log for one request.
const LOGGED_ERROR_MAX: usize = 1000;

/// The content security policy of every page: scripts, styles and images from this origin only
/// (no inline script or style), no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response, and `Cache-Control: no-store` on everything but the
/// static files, so that "back" after signing out never shows an account page from the cache.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let cacheable = req.path().starts_with("/static/");
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    let set =
        |h: &mut actix_web::http::header::HeaderMap, name: &'static str, value: &'static str| {
            h.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        };
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "content-security-policy", CONTENT_SECURITY_POLICY);
    if !cacheable {
        set(h, "cache-control", "no-store");
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};
    use tracing_actix_web::TracingLogger;

    use super::RedactedRootSpan;
    use crate::web::error::{ApiError, FieldError};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_megabyte_long_bad_value_is_not_logged_whole() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .route(
                    "/",
                    web::post().to(|| async {
                        Err::<HttpResponse, _>(ApiError::Validation(vec![FieldError {
                            field: "first_name".into(),
                            message: format!("unknown value '{}'", "z".repeat(1_500_000)),
                        }]))
                    }),
                ),
        )
        .await;
        let resp = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
        assert_eq!(resp.status(), 422);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("request finished"), "{text:.500}");
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < 5_000, "a {longest}-byte log line");
    }
}
