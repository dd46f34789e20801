//! The OpenAPI document, generated from the route table so it cannot drift from the router.

use crate::auth::Access;
use crate::routes::routes;

/// An axum path in OpenAPI's template syntax: a catch-all `{*path}` becomes `{path}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

/// Path parameters of an axum path (`{job_id}`).
fn path_parameters(path: &str) -> Vec<serde_json::Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .map(|name| serde_json::json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect()
}

pub fn document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for route in routes() {
        let mut operation = serde_json::json!({
            "summary": route.summary,
            "parameters": path_parameters(route.path),
            "responses": { "default": { "description": "JSON; errors as {\"detail\": {\"status\", \"message\"}}" } },
        });
        match route.access {
            Access::Public => operation["security"] = serde_json::json!([]),
            Access::Authenticated => {}
            Access::Scope(scope) => {
                operation["x-required-scope"] = serde_json::Value::from(scope.as_str())
            }
        }
        let entry = paths
            .entry(openapi_path(route.path))
            .or_insert_with(|| serde_json::json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "Dalston", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer" },
            "xi-api-key": { "type": "apiKey", "in": "header", "name": "xi-api-key" },
        } },
        "security": [ { "bearer": [] }, { "xi-api-key": [] } ],
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented() {
        let document = super::document();
        for route in crate::routes::routes() {
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(
                document["paths"][super::openapi_path(route.path)][&method].is_object(),
                "{} {} missing",
                route.method,
                route.path
            );
        }
        assert_eq!(
            document["paths"]["/v1/audio/transcriptions/{job_id}"]["get"]["parameters"][0]["name"],
            "job_id"
        );
        assert_eq!(
            document["paths"]["/console/{path}"]["get"]["parameters"][0]["name"],
            "path"
        );
    }
}
