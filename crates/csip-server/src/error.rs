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

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            _ => "internal",
        }
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
        response
    }
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
