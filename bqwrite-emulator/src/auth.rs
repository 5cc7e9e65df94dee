//! The opt-in check of the `authorization` header: see
//! [`EmulatorBuilder::require_bearer_token`](crate::EmulatorBuilder::require_bearer_token).

use std::fmt;
use std::sync::Arc;

use tonic::{Request, Status};

/// Decides whether a bearer token is accepted.
#[derive(Clone)]
pub(crate) struct BearerCheck(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl fmt::Debug for BearerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerCheck")
    }
}

/// Lets a call through when no check is set or its bearer token passes
/// the check; refuses it with UNAUTHENTICATED otherwise, as BigQuery does.
pub(crate) fn interceptor(
    check: Option<BearerCheck>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |request: Request<()>| {
        let Some(check) = &check else {
            return Ok(request);
        };
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            None => Err(Status::unauthenticated(
                "Request is missing required authentication credential (no bearer token)",
            )),
            Some(token) if !(check.0)(token) => Err(Status::unauthenticated(
                "Request had invalid authentication credentials (the bearer token is not valid)",
            )),
            Some(_) => Ok(request),
        }
    }
}
