//! Multiplexing: which destinations may share one AppendRows connection,
//! and what a connection's routing header may name.
//!
//! BigQuery lets the `_default` streams of many tables share a connection:
//! each request names its stream (`write_stream`) and, when the destination
//! or the schema changes, carries its writer schema. An application-created
//! stream keeps a connection of its own. Google's clients route a
//! multiplexed connection by location (`write_location=projects/P/locations/L`)
//! rather than by stream.

use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::server::routing_param;
use crate::status::ApiError;
use crate::store::{Stream, StreamKind};

/// What an AppendRows call's routing header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// No routing header (refused at the start in strict routing mode).
    Unrouted,
    /// `write_stream=S`: the connection's first request must name `S`.
    Stream(String),
    /// `write_location=projects/P/locations/L`: every request must name a
    /// stream of project `P`.
    Location { project: String, location: String },
}

impl Route {
    /// The route of a call from its metadata; `strict` refuses a call
    /// without one.
    pub(crate) fn from_metadata(metadata: &MetadataMap, strict: bool) -> Result<Self, Status> {
        if let Some(stream) = routing_param(metadata, &["write_stream"], false)? {
            return Ok(Route::Stream(stream));
        }
        if let Some(location) = routing_param(metadata, &["write_location"], false)? {
            return parse_location(&location);
        }
        // In strict mode this fails, naming what was expected.
        routing_param(metadata, &["write_stream"], strict)?;
        Ok(Route::Unrouted)
    }

    /// Whether a request may name `named`; `first` for the connection's
    /// first destination.
    pub(crate) fn check(&self, named: &str, first: bool) -> Result<(), ApiError> {
        match self {
            Route::Stream(routed) if first && routed != named => {
                Err(ApiError::invalid_argument(format!(
                    "{} routes to {routed:?} but the request names {named:?}",
                    crate::server::ROUTING_HEADER
                )))
            }
            Route::Location { project, location }
                if !named.starts_with(&format!("projects/{project}/")) =>
            {
                Err(ApiError::invalid_argument(format!(
                    "{} routes to location projects/{project}/locations/{location} but the request names {named:?} of another project",
                    crate::server::ROUTING_HEADER
                )))
            }
            _ => Ok(()),
        }
    }
}

fn parse_location(value: &str) -> Result<Route, Status> {
    match value.split('/').collect::<Vec<_>>()[..] {
        ["projects", project, "locations", location]
            if !project.is_empty() && !location.is_empty() =>
        {
            Ok(Route::Location {
                project: project.to_owned(),
                location: location.to_owned(),
            })
        }
        _ => Err(Status::invalid_argument(format!(
            "{} has a malformed write_location {value:?}: expected projects/{{project}}/locations/{{location}}",
            crate::server::ROUTING_HEADER
        ))),
    }
}

/// Whether a connection writing to `current` may go on with `next`: only
/// `_default` streams share a connection. Refused in-band; the connection
/// stays usable for its current destination.
pub(crate) fn check_switch(current: &Stream, next: &Stream) -> Result<(), ApiError> {
    if current.kind == StreamKind::Default && next.kind == StreamKind::Default {
        return Ok(());
    }
    Err(refused(&current.name, &next.name))
}

/// The refusal of a request naming `named` on a connection writing to
/// `current`, when one of them is an application-created stream.
pub(crate) fn refused(current: &str, named: &str) -> ApiError {
    ApiError::invalid_argument(format!(
        "this connection writes to {current}; a request names {named}: only `_default` streams \
         may share an AppendRows connection, open a new connection per application-created stream"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(crate::server::ROUTING_HEADER, value.parse().unwrap());
        metadata
    }

    #[test]
    fn routes_by_stream_or_by_location() {
        let route = Route::from_metadata(&header("write_stream=projects%2Fp%2Fx"), true).unwrap();
        assert_eq!(route, Route::Stream("projects/p/x".into()));
        let route = Route::from_metadata(
            &header("write_location=projects%2Fp%2Flocations%2FUS"),
            true,
        )
        .unwrap();
        assert_eq!(
            route,
            Route::Location {
                project: "p".into(),
                location: "US".into()
            }
        );
        assert!(
            route
                .check("projects/p/datasets/d/tables/t/streams/_default", false)
                .is_ok()
        );
        let err = route
            .check("projects/q/datasets/d/tables/t/streams/_default", false)
            .unwrap_err();
        assert!(
            err.message.contains("of another project"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_malformed_location_or_no_route_in_strict_mode_is_refused() {
        let err = Route::from_metadata(&header("write_location=US"), false).unwrap_err();
        assert!(
            err.message().contains("malformed write_location"),
            "{}",
            err.message()
        );
        let err = Route::from_metadata(&MetadataMap::new(), true).unwrap_err();
        assert!(
            err.message().contains("expected write_stream="),
            "{}",
            err.message()
        );
        assert_eq!(
            Route::from_metadata(&MetadataMap::new(), false).unwrap(),
            Route::Unrouted
        );
    }

    #[test]
    fn a_stream_route_checks_only_the_first_destination() {
        let route = Route::Stream("a".into());
        assert!(route.check("b", true).is_err());
        assert!(route.check("b", false).is_ok());
    }
}
