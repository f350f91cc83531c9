//! Errors as the API answers them: a status and a JSON body with a sentence
//! a person can act on.
//!
//! ```json
//! {"error": {"status": 404, "code": "not_found", "message": "there is no table `Acounts`; did you mean `Account_Master`?"}}
//! ```

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csip_engine::{TransactionError, TransactionErrorKind, ViewError};
use csip_store::StoreError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What to do about it.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// An evaluation that ran into a limit of its budget (422, `limit`): the
    /// message names the limit.
    pub(crate) fn limit(message: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the evaluation was stopped: {message}"),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The status as a word a program can match on.
    fn code(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "limit",
            StatusCode::INTERNAL_SERVER_ERROR => "internal",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            // Any other status (none is answered today): its reason phrase.
            other => {
                return std::borrow::Cow::Owned(
                    other
                        .canonical_reason()
                        .unwrap_or("error")
                        .to_ascii_lowercase()
                        .replace([' ', '-'], "_"),
                );
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(target: "csip::http", status = self.status.as_u16(), message = %self.message);
        }
        let body = json!({"error": {"status": self.status.as_u16(), "code": self.code(), "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"csip\""),
            );
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a late body is not waited for.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Any error answer that is not yet the API's JSON (axum's own rejections,
/// a status from a layer) becomes it, keeping its status, its headers and
/// its text as the message; so every error has one shape, whatever answered.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        text
    };
    let mut answer = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// The answer to a handler that panicked: 500 in the API's shape; the
/// panic's message goes to the log, not to the client.
pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(target: "csip::http", panic = message, "a handler panicked");
    ApiError::internal("the service failed on this request; the failure is logged").into_response()
}

/// A blocking task that failed (it panicked): 500, the details logged.
pub(crate) fn failed(e: tokio::task::JoinError) -> ApiError {
    tracing::error!(target: "csip::http", error = %e, "a request's task failed");
    ApiError::internal("the service failed on this request; the failure is logged")
}

impl From<TransactionError> for ApiError {
    fn from(e: TransactionError) -> ApiError {
        let status = match e.kind {
            TransactionErrorKind::UnknownTable | TransactionErrorKind::UnknownRow => {
                StatusCode::NOT_FOUND
            }
            TransactionErrorKind::Duplicate => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> ApiError {
        let status = match e {
            ViewError::UnknownView { .. } => StatusCode::NOT_FOUND,
            ViewError::Limit { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Rejected(e) => e.into(),
            StoreError::NotFound(m) => ApiError::not_found(m),
            e @ StoreError::Stale(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            other => ApiError::internal(format!("the workbook file could not be written: {other}")),
        }
    }
}
