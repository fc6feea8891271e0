//! JSON Schema ↔ Gemini's `Schema` (translation specification §4.4).
//!
//! [`clean_schema`] turns a JSON Schema written for OpenAI or Anthropic (tool parameters, response
//! formats) into the OpenAPI subset Gemini accepts as `parameters` / `responseSchema`: local
//! `$ref`s inlined (recursion cut at depth 16 with `{"type":"object"}`), `"type": [T, "null"]` as
//! `"type": T, "nullable": true`, `const` as a one-value `enum`, and then only the keywords of the
//! §4.4 list kept. [`openapi_to_json_schema`] goes the other way for schemas a Gemini client wrote.
//! Both are total: any JSON value gives a schema, recursion is bounded, nothing panics.

use serde_json::{Map, Value, json};

/// Nested `$ref` expansions followed before the schema is cut (§4.4).
const MAX_REF_DEPTH: usize = 16;

/// `$ref` expansions per schema: a definition referring to itself twice would otherwise double
/// the output at every level.
const MAX_REF_EXPANSIONS: usize = 2048;

/// Schema nesting followed (objects in objects, arrays of arrays, …) before the schema is cut.
const MAX_DEPTH: usize = 96;

/// Keywords that only make sense for one type; Gemini rejects `properties` on a non-object
/// ("only allowed for OBJECT type"), so they move with their type or go.
const OBJECT_KEYWORDS: [&str; 5] = ["properties", "required", "propertyOrdering", "minProperties", "maxProperties"];
const ARRAY_KEYWORDS: [&str; 3] = ["items", "minItems", "maxItems"];
const STRING_KEYWORDS: [&str; 5] = ["enum", "format", "pattern", "minLength", "maxLength"];
const NUMBER_KEYWORDS: [&str; 2] = ["minimum", "maximum"];

/// `schema` as Gemini's `Schema` accepts it. A non-object (`true`, garbage) is the empty schema.
pub fn clean_schema(schema: &Value) -> Value {
    Cleaner { root: schema, expansions: 0 }.clean(schema, 0, 0)
}

/// What a cut-off (too deep, recursive, unresolvable) schema becomes.
fn cut() -> Value {
    json!({"type": "object"})
}

struct Cleaner<'a> {
    /// The whole schema: local references (`#/$defs/…`) resolve against it.
    root: &'a Value,
    expansions: usize,
}

impl Cleaner<'_> {
    /// `refs` counts the `$ref` expansions on the way here, `depth` the schema nesting.
    fn clean(&mut self, node: &Value, refs: usize, depth: usize) -> Value {
        let Value::Object(map) = node else { return Value::Object(Map::new()) };
        if depth > MAX_DEPTH {
            return cut();
        }
        if let Some(reference) = map.get("$ref") {
            return self.inline(map, reference, refs, depth);
        }
        Value::Object(self.clean_object(map, refs, depth))
    }

    /// The referenced schema with the keywords written beside `$ref` laid over it.
    fn inline(&mut self, map: &Map<String, Value>, reference: &Value, refs: usize, depth: usize) -> Value {
        let mut rest = map.clone();
        rest.remove("$ref");
        let Some(target) = reference.as_str().and_then(|r| resolve(self.root, r)) else {
            // A remote or broken reference: what stands beside it, else an object.
            return match self.clean_object(&rest, refs, depth) {
                cleaned if cleaned.is_empty() => cut(),
                cleaned => Value::Object(cleaned),
            };
        };
        if refs >= MAX_REF_DEPTH || self.expansions >= MAX_REF_EXPANSIONS {
            return cut();
        }
        self.expansions += 1;
        let mut merged = target.as_object().cloned().unwrap_or_default();
        merged.extend(rest);
        self.clean(&Value::Object(merged), refs + 1, depth)
    }

    fn clean_object(&mut self, map: &Map<String, Value>, refs: usize, depth: usize) -> Map<String, Value> {
        let mut out = Map::new();
        let mut nullable = false;
        // `allOf` parts merged, then a single non-null `anyOf`/`oneOf` branch hoisted: the
        // schema's own keywords are laid over both.
        if let Some(Value::Array(parts)) = map.get("allOf") {
            for part in parts {
                if let Value::Object(part) = self.clean(part, refs, depth + 1) {
                    merge(&mut out, part);
                }
            }
        }
        if let Some(Value::Array(branches)) = map.get("anyOf").or_else(|| map.get("oneOf")) {
            let mut kept = Vec::new();
            for branch in branches {
                match self.clean(branch, refs, depth + 1) {
                    branch if is_null_schema(&branch) => nullable = true,
                    branch => kept.push(branch),
                }
            }
            if kept.len() == 1 {
                if let Some(Value::Object(only)) = kept.pop() {
                    merge(&mut out, only);
                }
            } else if !kept.is_empty() {
                out.insert("anyOf".into(), Value::Array(kept));
            }
        }
        let mut types: Vec<String> = Vec::new();
        for (key, value) in map {
            match key.as_str() {
                "type" => match value {
                    Value::String(t) => types.push(t.clone()),
                    Value::Array(ts) => types.extend(ts.iter().filter_map(Value::as_str).map(str::to_string)),
                    _ => {}
                },
                "nullable" => nullable |= value == &Value::Bool(true),
                "properties" => {
                    if let Value::Object(properties) = value {
                        let cleaned = properties
                            .iter()
                            .map(|(name, schema)| (name.clone(), self.clean(schema, refs, depth + 1)))
                            .collect();
                        out.insert(key.clone(), Value::Object(cleaned));
                    }
                }
                "items" => {
                    if let Some(items) = self.items(value, refs, depth) {
                        out.insert(key.clone(), items);
                    }
                }
                "prefixItems" if !map.contains_key("items") => {
                    if let Some(items) = self.items(value, refs, depth) {
                        out.insert("items".into(), items);
                    }
                }
                "enum" => match string_enum(value) {
                    Some((values, with_null)) => {
                        nullable |= with_null;
                        if !values.is_empty() {
                            out.insert(key.clone(), Value::Array(values));
                        }
                    }
                    None => {
                        out.remove("enum");
                    }
                },
                "const" if !map.contains_key("enum") => match value {
                    Value::String(_) => {
                        out.insert("enum".into(), json!([value]));
                    }
                    Value::Null => nullable = true,
                    // Gemini's `enum` holds strings only.
                    _ => {}
                },
                "required" | "propertyOrdering" => {
                    if let Value::Array(names) = value {
                        let names: Vec<Value> = names.iter().filter(|n| n.is_string()).cloned().collect();
                        out.insert(key.clone(), Value::Array(names));
                    }
                }
                "title" | "description" | "format" | "pattern" if value.is_string() => {
                    out.insert(key.clone(), value.clone());
                }
                "minItems" | "maxItems" | "minProperties" | "maxProperties" | "minLength" | "maxLength" => {
                    if let Some(n) = count(value) {
                        out.insert(key.clone(), json!(n));
                    }
                }
                "minimum" | "maximum" if value.is_number() => {
                    out.insert(key.clone(), value.clone());
                }
                "default" | "example" => {
                    out.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        nullable |= types.iter().any(|t| t == "null");
        types.retain(|t| t != "null");
        types.dedup();
        match types.as_slice() {
            [] => {}
            [only] => {
                out.insert("type".into(), json!(only));
            }
            [first, ..] if out.contains_key("anyOf") => {
                out.insert("type".into(), json!(first));
            }
            several => {
                let branches = several.iter().map(|t| type_branch(&mut out, t)).collect();
                out.insert("anyOf".into(), Value::Array(branches));
            }
        }
        if out.contains_key("enum") && !out.contains_key("type") && !out.contains_key("anyOf") {
            out.insert("type".into(), json!("string"));
        }
        let kind = out.get("type").and_then(Value::as_str).map(str::to_string);
        if let Some(kind) = kind {
            let foreign = OBJECT_KEYWORDS.iter().filter(|_| kind != "object");
            for keyword in foreign.chain(ARRAY_KEYWORDS.iter().filter(|_| kind != "array")) {
                out.remove(*keyword);
            }
        }
        keep_known_names(&mut out, "required");
        keep_known_names(&mut out, "propertyOrdering");
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        out
    }

    /// `items` as one schema: a tuple (`[A, B]`, `prefixItems`) as `anyOf` of its members.
    fn items(&mut self, value: &Value, refs: usize, depth: usize) -> Option<Value> {
        match value {
            Value::Array(members) => {
                let mut members: Vec<Value> = members.iter().map(|m| self.clean(m, refs, depth + 1)).collect();
                match members.len() {
                    0 => None,
                    1 => members.pop(),
                    _ => Some(json!({"anyOf": members})),
                }
            }
            Value::Object(_) => Some(self.clean(value, refs, depth + 1)),
            Value::Bool(true) => Some(json!({})),
            _ => None,
        }
    }
}

/// `#`, `#/$defs/Name`, `#/definitions/Name`, or any other local JSON pointer.
fn resolve<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    if reference == "#" {
        return Some(root);
    }
    let pointer = reference.strip_prefix("#/")?;
    pointer.split('/').try_fold(root, |node, token| {
        let token = token.replace("~1", "/").replace("~0", "~");
        match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    })
}

/// A cleaned `{"type":"null"}` (or `const: null`, `enum: [null]`).
fn is_null_schema(schema: &Value) -> bool {
    schema.as_object().is_some_and(|m| m.len() == 1 && m.get("nullable") == Some(&Value::Bool(true)))
}

/// The string values of an `enum` and whether it allowed `null`; `None` when it holds other
/// values (Gemini's `enum` is a list of strings).
fn string_enum(value: &Value) -> Option<(Vec<Value>, bool)> {
    let Value::Array(values) = value else { return None };
    let mut strings = Vec::with_capacity(values.len());
    let mut with_null = false;
    for value in values {
        match value {
            Value::String(_) => strings.push(value.clone()),
            Value::Null => with_null = true,
            _ => return None,
        }
    }
    Some((strings, with_null))
}

/// A non-negative integer (`3`, `3.0`).
fn count(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9e15).map(|f| f as u64))
}

/// Keys of `part` added to `out`: `properties` merged, `required` united, others kept from the
/// first part that has them.
fn merge(out: &mut Map<String, Value>, part: Map<String, Value>) {
    for (key, value) in part {
        match (key.as_str(), out.get_mut(&key), value) {
            ("properties", Some(Value::Object(have)), Value::Object(more)) => {
                for (name, schema) in more {
                    have.entry(name).or_insert(schema);
                }
            }
            ("required", Some(Value::Array(have)), Value::Array(more)) => {
                for name in more {
                    if !have.contains(&name) {
                        have.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                out.insert(key, value);
            }
        }
    }
}

/// One branch of a multi-type schema (`"type": ["string", "object"]`): the type with the keywords
/// that belong to it, taken out of `out`.
fn type_branch(out: &mut Map<String, Value>, kind: &str) -> Value {
    let keywords: &[&str] = match kind {
        "object" => &OBJECT_KEYWORDS,
        "array" => &ARRAY_KEYWORDS,
        "string" => &STRING_KEYWORDS,
        "number" | "integer" => &NUMBER_KEYWORDS,
        _ => &[],
    };
    let mut branch = Map::new();
    branch.insert("type".into(), json!(kind));
    for keyword in keywords {
        if let Some(value) = out.remove(*keyword) {
            branch.insert((*keyword).into(), value);
        }
    }
    Value::Object(branch)
}

/// `required` / `propertyOrdering` reduced to the properties that exist; gone when none are left.
fn keep_known_names(out: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(names)) = out.remove(key) else { return };
    let Some(Value::Object(properties)) = out.get("properties") else { return };
    let names: Vec<Value> =
        names.into_iter().filter(|n| n.as_str().is_some_and(|n| properties.contains_key(n))).collect();
    if !names.is_empty() {
        out.insert(key.into(), Value::Array(names));
    }
}

/// A schema a Gemini client wrote (`parameters`, `responseSchema`: OpenAPI style, types often
/// upper-case) as JSON Schema for other families: types lower-case, `nullable: true` folded into
/// `"type": [T, "null"]`. Everything else is kept.
pub fn openapi_to_json_schema(schema: &Value) -> Value {
    to_json_schema(schema, 0)
}

fn to_json_schema(node: &Value, depth: usize) -> Value {
    let Value::Object(map) = node else { return node.clone() };
    if depth > MAX_DEPTH {
        return node.clone();
    }
    let mut out = Map::new();
    for (key, value) in map {
        let value = match (key.as_str(), value) {
            ("type", Value::String(t)) if t.eq_ignore_ascii_case("TYPE_UNSPECIFIED") => continue,
            ("type", Value::String(t)) => json!(t.to_ascii_lowercase()),
            ("properties", Value::Object(properties)) => Value::Object(
                properties.iter().map(|(name, schema)| (name.clone(), to_json_schema(schema, depth + 1))).collect(),
            ),
            ("items", items) => to_json_schema(items, depth + 1),
            ("anyOf", Value::Array(branches)) => {
                Value::Array(branches.iter().map(|b| to_json_schema(b, depth + 1)).collect())
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(kind)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([kind, "null"]));
        out.remove("nullable");
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_refs_are_inlined_and_definitions_dropped() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:x",
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Address", "description": "Where they live"},
                "work": {"$ref": "#/definitions/Address"}
            },
            "required": ["home"],
            "additionalProperties": false,
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            "definitions": {"Address": {"type": "object", "properties": {"zip": {"type": "string"}}}}
        });
        assert_eq!(
            clean_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "home": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                             "description": "Where they live"},
                    "work": {"type": "object", "properties": {"zip": {"type": "string"}}}
                },
                "required": ["home"]
            })
        );
    }

    #[test]
    fn recursive_refs_are_cut_at_depth_16() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}
        });
        let mut node = &clean_schema(&schema);
        let mut levels = 0;
        while let Some(next) = node.get("properties").and_then(|p| p.get("next")) {
            levels += 1;
            node = next;
        }
        assert_eq!(levels, 16);
        assert_eq!(node, &json!({"type": "object"}));
        // A self-reference through `#` and a definition referring to itself twice stay bounded.
        let root = json!({"type": "object", "properties": {"child": {"$ref": "#"}}});
        assert!(clean_schema(&root).to_string().len() < 10_000);
        let tree = json!({"$ref": "#/$defs/T", "$defs": {"T": {"type": "object", "properties": {
            "left": {"$ref": "#/$defs/T"}, "right": {"$ref": "#/$defs/T"}}}}});
        assert!(clean_schema(&tree).to_string().len() < 2_000_000);
    }

    #[test]
    fn unresolvable_refs_keep_their_siblings_or_become_objects() {
        assert_eq!(clean_schema(&json!({"$ref": "https://example.com/s.json"})), json!({"type": "object"}));
        assert_eq!(clean_schema(&json!({"$ref": "#/$defs/Missing", "description": "d"})), json!({"description": "d"}));
        assert_eq!(clean_schema(&json!({"$ref": 7})), json!({"type": "object"}));
    }

    #[test]
    fn null_types_become_nullable() {
        assert_eq!(
            clean_schema(&json!({"type": ["string", "null"], "description": "n"})),
            json!({"type": "string", "description": "n", "nullable": true})
        );
        assert_eq!(
            clean_schema(&json!({"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "age"})),
            json!({"type": "integer", "description": "age", "nullable": true})
        );
        assert_eq!(
            clean_schema(&json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
        assert_eq!(clean_schema(&json!({"type": "null"})), json!({"nullable": true}));
    }

    #[test]
    fn several_types_become_branches_carrying_their_keywords() {
        assert_eq!(
            clean_schema(&json!({"type": ["string", "object"], "properties": {"a": {"type": "string"}},
                                 "maxLength": 3, "description": "either"})),
            json!({"description": "either", "anyOf": [
                {"type": "string", "maxLength": 3},
                {"type": "object", "properties": {"a": {"type": "string"}}}]})
        );
    }

    #[test]
    fn const_becomes_a_one_value_enum_for_strings_only() {
        assert_eq!(clean_schema(&json!({"const": "fixed"})), json!({"enum": ["fixed"], "type": "string"}));
        assert_eq!(clean_schema(&json!({"type": "integer", "const": 3})), json!({"type": "integer"}));
        assert_eq!(
            clean_schema(&json!({"type": "string", "enum": ["a", "b", null]})),
            json!({"type": "string", "enum": ["a", "b"], "nullable": true})
        );
        assert_eq!(clean_schema(&json!({"type": "integer", "enum": [1, 2]})), json!({"type": "integer"}));
    }

    #[test]
    fn only_the_listed_keywords_survive() {
        let schema = json!({
            "type": "object",
            "title": "T", "description": "D", "default": {"a": "x"}, "example": {"a": "y"},
            "examples": [{"a": "z"}], "additionalProperties": {"type": "string"},
            "minProperties": 1, "maxProperties": 4, "patternProperties": {"^x": {}},
            "properties": {
                "a": {"type": "string", "format": "date-time", "pattern": "^x", "minLength": 1, "maxLength": 9,
                      "contentEncoding": "base64", "readOnly": true},
                "n": {"type": "number", "minimum": 0, "maximum": 1.5, "exclusiveMinimum": 0, "multipleOf": 0.5},
                "l": {"type": "array", "items": {"type": "string"}, "minItems": 1.0, "maxItems": 3,
                      "uniqueItems": true, "contains": {"type": "string"}}
            },
            "required": ["a", "ghost"],
            "propertyOrdering": ["a", "n", "l", "ghost"],
            "not": {"type": "null"}, "if": {}, "then": {}, "else": {}, "dependentRequired": {}
        });
        assert_eq!(
            clean_schema(&schema),
            json!({
                "type": "object", "title": "T", "description": "D", "default": {"a": "x"}, "example": {"a": "y"},
                "minProperties": 1, "maxProperties": 4,
                "properties": {
                    "a": {"type": "string", "format": "date-time", "pattern": "^x", "minLength": 1, "maxLength": 9},
                    "n": {"type": "number", "minimum": 0, "maximum": 1.5},
                    "l": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}
                },
                "required": ["a"],
                "propertyOrdering": ["a", "n", "l"]
            })
        );
    }

    #[test]
    fn object_and_array_keywords_leave_other_types() {
        assert_eq!(
            clean_schema(&json!({"type": "string", "properties": {"x": {}}, "required": ["x"], "items": {}})),
            json!({"type": "string"})
        );
        assert_eq!(clean_schema(&json!({"type": "object", "required": ["x"]})), json!({"type": "object"}));
    }

    #[test]
    fn all_of_is_merged_and_tuples_become_any_of() {
        assert_eq!(
            clean_schema(&json!({"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]})),
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]})
        );
        assert_eq!(
            clean_schema(&json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]})),
            json!({"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}})
        );
    }

    #[test]
    fn garbage_never_panics_and_gives_objects() {
        let inputs = [
            json!(null),
            json!(true),
            json!("x"),
            json!([1, 2]),
            json!({"type": 5, "properties": [], "required": "a", "items": 3, "anyOf": {}, "enum": "x"}),
            json!({"$ref": "#/a/0/~1b/~0c", "a": [{"/b": {"~c": {"type": "string"}}}]}),
            json!({"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}}),
            json!({"minLength": -1, "maxLength": 1.5, "minimum": "0", "title": 3, "nullable": "yes"}),
        ];
        for input in &inputs {
            assert!(clean_schema(input).is_object(), "{input}");
            let _ = openapi_to_json_schema(input);
        }
        assert_eq!(clean_schema(&inputs[5]), json!({"type": "string"}));
        assert_eq!(clean_schema(&inputs[6]), json!({"type": "object"}));
        let mut deep = json!({"type": "string"});
        for _ in 0..500 {
            deep = json!({"type": "array", "items": deep});
        }
        assert!(clean_schema(&deep).is_object());
        assert!(openapi_to_json_schema(&deep).is_object());
    }

    #[test]
    fn gemini_schemas_read_back_as_json_schema() {
        let schema = json!({"type": "OBJECT", "properties": {
            "city": {"type": "STRING", "nullable": true},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "any": {"type": "TYPE_UNSPECIFIED", "anyOf": [{"type": "INTEGER"}]}},
            "required": ["city"]});
        assert_eq!(
            openapi_to_json_schema(&schema),
            json!({"type": "object", "properties": {
                "city": {"type": ["string", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "any": {"anyOf": [{"type": "integer"}]}},
                "required": ["city"]})
        );
    }
}
