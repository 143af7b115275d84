//! The OpenAPI document as this ingest serves it (`/openapi.json`, and inside Swagger UI at
//! `/docs`): poem-openapi's, with the two things it cannot say itself made true.
//!
//! - Security follows the configuration. poem-openapi writes one requirement for every build,
//!   "an API key, or nothing" (the `Auth` fallback), which makes generated clients optional
//!   about the key on a server that refuses every request without one. Here: no requirement
//!   and no scheme when `API_KEYS` is empty, the key alone when it is set.
//! - A property that is a reference is the bare `$ref`. poem-openapi wraps a reference that
//!   has a description or a default beside it in `allOf` (OpenAPI 3.0 ignores siblings of a
//!   `$ref`), and generators then emit a second type for each such property, or give up on an
//!   enum ("cannot take allOf a non-object"). The referenced types say what the property
//!   would have said, defaults included.
//! - The rate limit answers before any operation does, so poem-openapi knows nothing of it:
//!   with `RATE_LIMIT_PER_MINUTE` set, every operation documents its `429 rate_limited` with
//!   `Retry-After`; without it, none does (it never happens).
//! - The event stream is a `text/event-stream` string. poem-openapi describes it as an array
//!   of tasks, and generators then parse the body as a JSON array and fail; each event's
//!   `data` is the task, named by `x-event-data` (a specification extension, which validators,
//!   generators and Swagger UI accept and ignore).

use serde_json::{Value, json};

/// The event stream's operation, as the document names it.
const EVENTS_OPERATION: &str = "task_events";

/// What the served document follows of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Served {
    /// `API_KEYS` is set.
    pub keys_required: bool,
    /// `RATE_LIMIT_PER_MINUTE` is set.
    pub rate_limited: bool,
}

/// `spec`, poem-openapi's document, as served with the configuration `served`.
pub(crate) fn served_document(spec: &str, served: Served) -> String {
    let Served {
        keys_required,
        rate_limited,
    } = served;
    let Ok(mut document) = serde_json::from_str::<Value>(spec) else {
        // poem-openapi writes the document itself; it is JSON.
        return spec.to_owned();
    };
    for operation in operations(&mut document) {
        if keys_required {
            operation["security"] = json!([{ "ApiKey": [] }]);
        } else if let Some(fields) = operation.as_object_mut() {
            fields.remove("security");
        }
        if operation["operationId"] == EVENTS_OPERATION {
            describe_event_stream(operation);
        }
        if rate_limited {
            operation["responses"]["429"] = too_many_requests();
        }
    }
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            unwrap_references(schema);
        }
    }
    if !keys_required && let Some(components) = document["components"].as_object_mut() {
        components.remove("securitySchemes");
    }
    document.to_string()
}

/// Every operation of every path.
fn operations(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut())
}

/// Each property of `schema` of the form `allOf: [{$ref}, {...}]` made the bare `$ref`.
fn unwrap_references(schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        let reference = match property["allOf"].as_array().map(Vec::as_slice) {
            Some([first, _]) if first.get("$ref").is_some() => first.clone(),
            _ => continue,
        };
        *property = reference;
    }
}

/// The rate limit's answer, as every operation documents it when the limit is on.
fn too_many_requests() -> Value {
    json!({
        "description": "Too many requests from this client (`rate_limited`): over this \
            server's `RATE_LIMIT_PER_MINUTE` for its API key, or for its address when it has \
            none. Retry after the `Retry-After` seconds.",
        "headers": {
            "Retry-After": {
                "description": "Seconds until the next request is allowed (at least 1).",
                "required": true,
                "schema": { "type": "integer", "format": "uint64", "minimum": 1 },
            },
        },
        "content": {
            crate::error::PROBLEM_CONTENT_TYPE: {
                "schema": { "$ref": "#/components/schemas/Problem" },
            },
        },
    })
}

fn describe_event_stream(operation: &mut Value) {
    let Some(stream) = operation["responses"]["200"]["content"].get_mut("text/event-stream") else {
        return;
    };
    *stream = json!({
        "schema": {
            "type": "string",
            "description": "Server-Sent Events. Each event is `event: status`, an `id`, and \
                `data`: the task as JSON, as `GET /api/v1/tasks/{task_id}` returns it \
                (the schema in `x-event-data`).",
        },
        "x-event-data": { "$ref": "#/components/schemas/TaskView" },
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AppState;

    fn document(keys_required: bool) -> Value {
        served(Served {
            keys_required,
            rate_limited: false,
        })
    }

    fn served(served: Served) -> Value {
        let spec = super::super::service(AppState::offline()).spec();
        serde_json::from_str(&served_document(&spec, served)).expect("JSON")
    }

    fn securities(document: &Value) -> Vec<Value> {
        let mut document = document.clone();
        operations(&mut document)
            .map(|operation| operation["security"].clone())
            .collect()
    }

    #[test]
    fn the_key_is_required_exactly_when_keys_are_configured() {
        let open = document(false);
        assert!(securities(&open).iter().all(Value::is_null), "{open}");
        assert!(open["components"].get("securitySchemes").is_none());

        let closed = document(true);
        let required = json!([{ "ApiKey": [] }]);
        assert!(securities(&closed).iter().all(|s| *s == required));
        assert_eq!(
            closed["components"]["securitySchemes"]["ApiKey"]["name"],
            "X-API-Key"
        );
    }

    #[test]
    fn every_operation_documents_the_429_exactly_when_the_limit_is_on() {
        for rate_limited in [false, true] {
            let mut document = served(Served {
                keys_required: false,
                rate_limited,
            });
            let mut counted = 0;
            for operation in operations(&mut document) {
                let answer = &operation["responses"]["429"];
                assert_eq!(!answer.is_null(), rate_limited, "{operation}");
                if rate_limited {
                    assert_eq!(
                        answer["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem"
                    );
                    assert_eq!(answer["headers"]["Retry-After"]["required"], true);
                }
                counted += 1;
            }
            assert!(counted >= 9, "{counted} operations");
        }
    }

    #[test]
    fn the_event_stream_is_a_string_whose_events_carry_tasks() {
        let document = document(false);
        let stream = &document["paths"]["/api/v1/tasks/{task_id}/events"]["get"]["responses"]["200"]
            ["content"]["text/event-stream"];
        assert_eq!(stream["schema"]["type"], "string", "{stream}");
        assert_eq!(
            stream["x-event-data"]["$ref"],
            "#/components/schemas/TaskView"
        );
    }

    /// A description or default beside a `$ref` makes poem-openapi wrap the reference in
    /// `allOf`, and generators then emit a type per use (or give up, for an enum): the types
    /// carry their own descriptions instead. (The union's variants are `allOf` of `op` and
    /// the step's fields, composition as OpenAPI means it.)
    #[test]
    fn no_property_wraps_a_reference() {
        let document = document(false);
        let schemas = document["components"]["schemas"]
            .as_object()
            .expect("schemas");
        for (name, schema) in schemas {
            let Some(properties) = schema["properties"].as_object() else {
                continue;
            };
            for (property, value) in properties {
                assert!(value.get("allOf").is_none(), "{name}.{property}: {value}");
            }
        }
    }
}
