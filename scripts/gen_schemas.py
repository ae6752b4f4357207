#!/usr/bin/env python3
"""Writes docs/vigil.bundle.schema.json (JSON Schema 2020-12 of the interchange format) and
Sources/VigilServer/Resources/openapi.json (OpenAPI 3.1 of /api/v1), from one description.

Run `python3 scripts/gen_schemas.py` after changing either; tests check both are current.
The schema describes the shape; rules that span fields (deadline after publication, outcome
closes its urgent action, references) are enforced by Vigil and listed in docs/interchange-format.md.
"""
import json, pathlib, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLUG = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$"}
LANG = {"type": "string", "pattern": "^[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"}
COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$"}
DATE = {"type": "string", "pattern": "^[0-9]{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?)?$"}
DAY = {"type": "string", "pattern": "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"}
TEXT = {"type": "string", "minLength": 1}

def obj(props, required=()):
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": props}

def opt(schema):
    return {"anyOf": [schema, {"type": "null"}]}

defs = {
    "target": obj({
        "id": SLUG, "title": TEXT, "name": opt(TEXT), "organisation": opt(TEXT),
        "address": {"type": "array", "items": TEXT, "maxItems": 12},
        "country": opt(COUNTRY), "email": opt({"type": "string", "format": "email"}), "fax": opt(TEXT), "phone": opt(TEXT),
        "social": {"type": "object", "additionalProperties": opt(TEXT)},
        "web_form": opt({"type": "string", "pattern": "^https?://"}),
        "salutation": {"type": "object", "propertyNames": LANG, "additionalProperties": TEXT},
        "languages": {"type": "array", "items": LANG},
        "valid_from": opt(DATE), "valid_to": opt(DATE), "channel_notes": opt(TEXT),
    }, ["id", "title"]),
    "sentence": {
        **obj({"years": {"type": "integer", "minimum": 0, "maximum": 99}, "months": {"type": "integer", "minimum": 0, "maximum": 11},
               "life": {"const": True}, "death": {"const": True}, "court": opt(TEXT), "date": opt(DATE),
               "stage": opt({"enum": ["first-instance", "appeal", "cassation", "supreme-court"]})}),
        "oneOf": [{"anyOf": [{"required": ["years"]}, {"required": ["months"]}], "not": {"anyOf": [{"required": ["life"]}, {"required": ["death"]}]}},
                  {"required": ["life"], "not": {"anyOf": [{"required": ["years"]}, {"required": ["months"]}, {"required": ["death"]}]}},
                  {"required": ["death"], "not": {"anyOf": [{"required": ["years"]}, {"required": ["months"]}, {"required": ["life"]}]}}],
    },
    "person": obj({
        "id": SLUG, "name": TEXT, "pronouns": opt(TEXT), "role": opt(TEXT),
        "status": {"enum": ["detained", "imprisoned", "released", "disappeared", "deceased", "at-risk", "on-trial",
                            "house-arrest", "convicted", "harassed", "in-exile"]},
        "charges": {"type": "array", "items": TEXT},
        "sentences": {"type": "array", "items": {"$ref": "#/$defs/sentence"}},
    }, ["id", "name", "status"]),
    "timeline_event": obj({
        "date": DATE, "kind": {"enum": ["arrest", "charge", "trial", "verdict", "appeal", "release", "transfer", "health", "other"]},
        "people": {"type": "array", "items": SLUG}, "summary": TEXT, "source": opt(TEXT),
    }, ["date", "kind", "summary"]),
    "take_action": obj({
        "deadline": opt(DAY), "preferred_languages": {"type": "array", "items": LANG},
        "targets": {"type": "array", "items": obj({"target": SLUG}, ["target"])},
        "copies_to": {"type": "array", "items": {**obj({"text": opt(TEXT), "target": opt(SLUG)}),
                                                 "anyOf": [{"required": ["text"]}, {"required": ["target"]}]}},
        "letter": opt(TEXT), "other_channels": opt(TEXT),
    }),
    "document": obj({
        "id": SLUG, "sequence": {"type": "integer", "minimum": 0, "maximum": 999},
        "kind": {"enum": ["initial", "update", "outcome"]},
        "outcome": opt({"enum": ["good-news", "bad-news", "mixed"]}),
        "no_further_action": {"type": "boolean"},
        "language": LANG, "translation_of": opt(SLUG),
        "ai_index": opt({"type": "string", "pattern": "^[A-Z]{3} \\d{2}/\\d{3,4}/\\d{4}$"}),
        "published": DAY, "title": TEXT, "summary": opt(TEXT), "body": TEXT,
        "take_action": opt({"$ref": "#/$defs/take_action"}),
        "additional_information": opt(TEXT),
        "quote": opt(obj({"text": TEXT, "by": opt(TEXT)}, ["text"])),
    }, ["id", "sequence", "kind", "language", "published", "title", "body"]),
    "urgent_action": obj({
        "number": {"type": "string", "pattern": "^[1-9][0-9]{0,3}/[0-9]{2}$"},
        "status": {"enum": ["open", "closed"]},
        "documents": {"type": "array", "items": {"$ref": "#/$defs/document"}},
    }, ["number"]),
    "case": obj({
        "id": SLUG, "title": TEXT, "summary": opt(TEXT),
        "countries": {"type": "array", "items": COUNTRY, "minItems": 1},
        "region": opt(TEXT), "themes": {"type": "array", "items": SLUG},
        "status": {"enum": ["open", "closed"]},
        "people": {"type": "array", "items": {"$ref": "#/$defs/person"}},
        "timeline": {"type": "array", "items": {"$ref": "#/$defs/timeline_event"}},
        "urgent_actions": {"type": "array", "items": {"$ref": "#/$defs/urgent_action"}},
    }, ["id", "title", "countries"]),
}

bundle_schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://vigil.example/schemas/vigil.bundle-1.json",
    "title": "vigil.bundle/1",
    "description": "Vigil's interchange format: cases with their people, timeline, urgent actions and documents, and the targets they name.",
    **obj({"format": {"const": "vigil.bundle/1"},
           "targets": {"type": "array", "items": {"$ref": "#/$defs/target"}},
           "cases": {"type": "array", "items": {"$ref": "#/$defs/case"}}}, ["format"]),
    "$defs": defs,
}

# OpenAPI: the same definitions as components.
def rewrite(x):
    if isinstance(x, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else rewrite(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [rewrite(i) for i in x]
    return x

schemas = rewrite(defs)
schemas["bundle"] = rewrite({k: v for k, v in bundle_schema.items() if k not in ("$schema", "$id", "$defs", "title", "description")})
schemas["error"] = {"type": "object", "required": ["error", "reason"], "properties": {
    "error": {"const": True}, "reason": {"type": "string"},
    "issues": {"type": "array", "items": {"type": "object", "required": ["path", "message"],
                                          "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}}}
schemas["write_summary"] = {"type": "object", "required": ["created", "updated", "unchanged"], "properties": {
    "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}}}
schemas["listed_urgent_action"] = {"allOf": [{"$ref": "#/components/schemas/urgent_action"}],
                                   "properties": {"case": SLUG}, "required": ["case"]}
schemas["listed_document"] = {"allOf": [{"$ref": "#/components/schemas/document"}],
                              "properties": {"case": SLUG, "urgent_action": {"type": "string"}}, "required": ["case", "urgent_action"]}
for s in ("urgent_action", "document"):
    # listed items carry extra members, so the base objects must allow them there
    pass

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def page_of(name):
    return {"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": ref(name)}, "next_cursor": {"type": ["string", "null"]}}}

def q(name, desc, schema=None):
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema or {"type": "string"}}

LIMIT = q("limit", "Items per page, 1–100 (default 20).", {"type": "integer", "minimum": 1, "maximum": 100})
CURSOR = q("cursor", "The next_cursor of the previous page, unchanged.")
COUNTRY_Q = q("country", "ISO 3166-1 alpha-2 country of the case.", COUNTRY)
THEME_Q = q("theme", "Theme slug of the case.", SLUG)
SINCE_Q = q("updated_since", "Only items changed at or after this ISO 8601 date or date-time.")
CASE_Q = q("case", "Only this case.", SLUG)
UA_STATUS = q("status", "Where the urgent action stands today: open (can be acted on: not closed, deadline not passed, "
                        "in the organisation's time zone), deadline-passed, or closed. For cases: open or closed is the case's own "
                        "status; deadline-passed an open case with no urgent action open today.",
              {"enum": ["open", "deadline-passed", "closed"]})
KIND_Q = q("kind", "Document kind.", {"enum": ["initial", "update", "outcome"]})
LANG_Q = q("language", "BCP 47 language tag of a document.", LANG)

def err(desc): return {"description": desc, "content": {"application/json": {"schema": ref("error")}}}
def ok(desc, schema, status="200"):
    return {status: {"description": desc, "content": {"application/json": {"schema": schema}}}}
BAD = {"400": err("Bad request: a bad parameter, cursor or JSON body.")}
NOTFOUND = {"404": err("Not found.")}
WRITE_ERRORS = {"400": err("Not valid JSON."), "401": err("No valid editor token."), "413": err("Body too large."),
                "415": err("Not application/json."), "422": err("The content breaks the format's rules; every problem is listed in issues.")}
def body(name): return {"required": True, "content": {"application/json": {"schema": ref(name)}}}
def path_param(name, desc, schema): return {"name": name, "in": "path", "required": True, "description": desc, "schema": schema}
ID = path_param("id", "Stable id (slug).", SLUG)
NUMBER = path_param("number", "Urgent action number with a hyphen: UA 126/19 is 126-19.", {"type": "string", "pattern": "^[1-9][0-9]{0,3}-[0-9]{2}$"})
DOC = path_param("document", "Document id.", SLUG)
SEC = [{"editorToken": []}]

paths = {
    "/api/v1/openapi.json": {"get": {"summary": "This document.", "operationId": "openapi", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/api/v1/cases": {
        "get": {"summary": "List cases, by id.", "operationId": "listCases", "parameters": [COUNTRY_Q, THEME_Q, UA_STATUS, SINCE_Q, LIMIT, CURSOR],
                "responses": {**ok("A page of cases.", page_of("case")), **BAD}},
        "post": {"summary": "Create a case (with its people, timeline, urgent actions and documents).", "operationId": "createCase", "security": SEC,
                 "requestBody": body("case"), "responses": {**ok("Created.", ref("case"), "201"), "409": err("The case exists already."), **WRITE_ERRORS}}},
    "/api/v1/cases/{id}": {
        "parameters": [ID],
        "get": {"summary": "Read a case.", "operationId": "getCase", "responses": {**ok("The case.", ref("case")), **BAD, **NOTFOUND}},
        "put": {"summary": "Create or replace a case. Its people and timeline are replaced; urgent actions and documents given are created or replaced, others kept.",
                "operationId": "replaceCase", "security": SEC, "requestBody": body("case"),
                "responses": {**ok("Replaced.", ref("case")), **ok("Created.", ref("case"), "201"), **WRITE_ERRORS}}},
    "/api/v1/urgent-actions": {
        "get": {"summary": "List urgent actions, newest first.", "operationId": "listUrgentActions",
                "parameters": [COUNTRY_Q, THEME_Q, UA_STATUS, KIND_Q, LANG_Q, SINCE_Q, CASE_Q, LIMIT, CURSOR],
                "responses": {**ok("A page of urgent actions with their documents.", page_of("listed_urgent_action")), **BAD}}},
    "/api/v1/urgent-actions/{number}": {
        "parameters": [NUMBER],
        "get": {"summary": "Read an urgent action with its documents.", "operationId": "getUrgentAction",
                "responses": {**ok("The urgent action.", ref("listed_urgent_action")), **BAD, **NOTFOUND}}},
    "/api/v1/urgent-actions/{number}/documents": {
        "parameters": [NUMBER],
        "get": {"summary": "The documents of an urgent action, in reading order.", "operationId": "listDocumentsOfUrgentAction",
                "responses": {**ok("All documents (one page).", page_of("document")), **BAD, **NOTFOUND}},
        "post": {"summary": "Add a document (an update, an outcome, a translation). An outcome closes the urgent action.",
                 "operationId": "createDocument", "security": SEC, "requestBody": body("document"),
                 "responses": {**ok("Created.", ref("listed_document"), "201"), "404": err("No such urgent action."), "409": err("The document exists already."), **WRITE_ERRORS}}},
    "/api/v1/urgent-actions/{number}/documents/{document}": {
        "parameters": [NUMBER, DOC],
        "get": {"summary": "Read one document of an urgent action.", "operationId": "getDocumentOfUrgentAction",
                "responses": {**ok("The document.", ref("document")), **BAD, **NOTFOUND}},
        "put": {"summary": "Create or replace a document.", "operationId": "replaceDocument", "security": SEC, "requestBody": body("document"),
                "responses": {**ok("Replaced.", ref("listed_document")), **ok("Created.", ref("listed_document"), "201"), "404": err("No such urgent action."), **WRITE_ERRORS}}},
    "/api/v1/documents": {
        "get": {"summary": "List documents, newest publication first.", "operationId": "listDocuments",
                "parameters": [COUNTRY_Q, THEME_Q, UA_STATUS, KIND_Q, LANG_Q, SINCE_Q, CASE_Q, LIMIT, CURSOR],
                "responses": {**ok("A page of documents.", page_of("listed_document")), **BAD}}},
    "/api/v1/documents/{document}": {
        "parameters": [DOC],
        "get": {"summary": "Read a document.", "operationId": "getDocument", "responses": {**ok("The document.", ref("listed_document")), **BAD, **NOTFOUND}}},
    "/api/v1/targets": {
        "get": {"summary": "List targets (officials), by id.", "operationId": "listTargets", "parameters": [q("country", "Country of the official.", COUNTRY), SINCE_Q, LIMIT, CURSOR],
                "responses": {**ok("A page of targets.", page_of("target")), **BAD}},
        "post": {"summary": "Add a target to the directory.", "operationId": "createTarget", "security": SEC, "requestBody": body("target"),
                 "responses": {**ok("Created.", ref("target"), "201"), "409": err("The target exists already."), **WRITE_ERRORS}}},
    "/api/v1/targets/{id}": {
        "parameters": [ID],
        "get": {"summary": "Read a target.", "operationId": "getTarget", "responses": {**ok("The target.", ref("target")), **BAD, **NOTFOUND}},
        "put": {"summary": "Create or replace a target.", "operationId": "replaceTarget", "security": SEC, "requestBody": body("target"),
                "responses": {**ok("Replaced.", ref("target")), **ok("Created.", ref("target"), "201"), **WRITE_ERRORS}}},
    "/api/v1/bundles": {
        "post": {"summary": "Import a vigil.bundle/1 document: all or nothing, idempotent.", "operationId": "importBundle", "security": SEC,
                 "requestBody": body("bundle"), "responses": {**ok("Imported.", ref("write_summary")), **WRITE_ERRORS}}},
    "/api/v1/urgent-actions/{number}/totals": {
        "parameters": [NUMBER],
        "get": {"summary": "Actions reported by supporters for an urgent action: in all, per channel, per document.", "operationId": "urgentActionTotals",
                "responses": {**ok("Totals.", {"type": "object", "required": ["total", "by_channel", "documents"], "properties": {
                    "urgent_action": {"type": "string"}, "total": {"type": "integer"},
                    "by_channel": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "documents": {"type": "object", "additionalProperties": {"type": "object"}}}}), **BAD, **NOTFOUND}}},
    "/api/v1/totals": {
        "get": {"summary": "Reported actions for every document, for partner sections to pull.", "operationId": "allTotals",
                "responses": ok("Totals per document.", {"type": "object", "required": ["documents"], "properties": {
                    "documents": {"type": "object", "additionalProperties": {"type": "object"}}}})}},
    "/api/v1/export": {
        "get": {"summary": "Export everything, or one case and the targets it names, as a vigil.bundle/1 document.", "operationId": "exportBundle",
                "parameters": [CASE_Q], "responses": {**ok("The bundle.", ref("bundle")), **BAD, **NOTFOUND}}},
}

# Listed items extend the base objects with case / urgent_action: the base objects forbid extra
# members, so in OpenAPI the listed forms are their own closed objects.
STANDING = {"case": SLUG,
            "standing": {"enum": ["open", "deadline-passed", "closed"],
                         "description": "Where it stands today: open means supporters can act on it now."},
            "deadline_in_force": {"type": ["string", "null"],
                                  "description": "The deadline of the newest document that gives one (an update's replaces the earlier)."}}
for name, base, extra in (("listed_urgent_action", "urgent_action", STANDING),
                          ("listed_document", "document", {"case": SLUG, "urgent_action": {"type": "string"}})):
    b = json.loads(json.dumps(schemas[base]))
    b["properties"].update(extra)
    b["required"] = b["required"] + list(extra)
    schemas[name] = b

# A new urgent action of a case, numbered by Vigil (POST /api/v1/cases/{id}/urgent-actions).
# Document ids embed the number, which the client may not know yet: `{number}` stands for it.
NUMBERED_SLUG = {"type": "string", "maxLength": 128, "pattern": "^(?:[a-z0-9-]|\\{number\\})+$",
                 "description": "A slug; {number} stands for the urgent action's number as in its address (126-19)."}
new_document = json.loads(json.dumps(schemas["document"]))
new_document["properties"]["id"] = {**NUMBERED_SLUG, "description": "Left out: ua-{number}-{sequence}-{language in lower case}. "
                                    + NUMBERED_SLUG["description"]}
new_document["properties"]["translation_of"] = opt(NUMBERED_SLUG)
new_document["required"] = [r for r in new_document["required"] if r != "id"]
schemas["new_document"] = new_document
schemas["new_urgent_action"] = obj({
    "number": {"type": "string", "pattern": "^[1-9][0-9]{0,3}/[0-9]{2}$",
               "description": "Only for a number that comes from elsewhere (409 if taken). Left out, Vigil assigns the next number "
                              "of the year of publication."},
    "status": {"enum": ["open", "closed"], "description": "Left out: open, or closed when an outcome is among the documents."},
    "documents": {"type": "array", "minItems": 1, "items": ref("new_document"),
                  "description": "At least the initial document; updates, an outcome and translations may follow."},
}, ["documents"])
schemas["urgent_action_created"] = {"type": "object", "required": ["number", "id", "url", "documents"], "properties": {
    "number": {"type": "string", "description": "The number, assigned or typed: 126/19."},
    "id": {"type": "string", "description": "The number as in addresses: 126-19 (GET /api/v1/urgent-actions/{number})."},
    "url": {"type": "string", "description": "The urgent action's public page."},
    "documents": {"type": "array", "items": SLUG, "description": "The documents' ids, as stored."}}}
paths["/api/v1/cases/{id}/urgent-actions"] = {
    "parameters": [ID],
    "post": {"summary": "Publish a new urgent action of a case, with at least its initial document. Vigil assigns its number "
                        "(the next of the year, no gap, no duplicate) unless one is given; the answer names it.",
             "operationId": "createUrgentAction", "security": SEC, "requestBody": body("new_urgent_action"),
             "responses": {**ok("Created; Location is the urgent action in the API.", ref("urgent_action_created"), "201"),
                           "403": err("The token's scope does not cover writes."), "404": err("No such case."),
                           "409": err("The number given exists already."), **WRITE_ERRORS}}}

# Withdrawal for safety: a withdrawn urgent action (all its documents) is in no list, and its
# items answer 410 with a neutral reason; publishers withdraw, redact and republish.
GONE = {"410": err("Withdrawn: the urgent action (or the document's) has been withdrawn; the reason names nothing.")}
for path, method in (("/api/v1/urgent-actions/{number}", "get"), ("/api/v1/urgent-actions/{number}/documents", "get"),
                     ("/api/v1/urgent-actions/{number}/documents/{document}", "get"), ("/api/v1/documents/{document}", "get"),
                     ("/api/v1/urgent-actions/{number}/totals", "get")):
    paths[path][method]["responses"].update(GONE)
schemas["withdrawal"] = obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500,
                                        "description": "Why it is withdrawn: kept internal, never shown publicly or in the audit log."}},
                            ["reason"])
schemas["redaction"] = obj({"from": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The text to replace, such as a person's name."},
                            "to": {"type": "string", "maxLength": 200, "description": "What replaces it, such as [name withheld]."}},
                           ["from", "to"])
schemas["withdrawal_state"] = {"type": "object", "required": ["urgent_action"], "properties": {
    "urgent_action": {"type": "string", "description": "The number: 126/19."},
    "withdrawn": {"type": "boolean"}, "redacted": {"type": "boolean"}}}
WITHDRAWAL_ERRORS = {**WRITE_ERRORS, "403": err("The token's scope does not cover writes."), "404": err("No such urgent action.")}
paths["/api/v1/urgent-actions/{number}/withdraw"] = {
    "parameters": [NUMBER],
    "post": {"summary": "Withdraw an urgent action for safety, with all its documents and translations: it leaves the site, feeds, "
                        "sitemap, search, packs, downloads and the API at once, and its addresses answer 410.",
             "operationId": "withdrawUrgentAction", "security": SEC, "requestBody": body("withdrawal"),
             "responses": {**ok("Withdrawn.", ref("withdrawal_state")), "409": err("Already withdrawn."), **WITHDRAWAL_ERRORS}}}
paths["/api/v1/urgent-actions/{number}/republish"] = {
    "parameters": [NUMBER],
    "post": {"summary": "Republish a withdrawn urgent action, as it now is (redacted or not).",
             "operationId": "republishUrgentAction", "security": SEC,
             "responses": {**ok("Published again.", ref("withdrawal_state")), "409": err("Not withdrawn."), **WITHDRAWAL_ERRORS}}}
paths["/api/v1/urgent-actions/{number}/redact"] = {
    "parameters": [NUMBER],
    "post": {"summary": "Replace a text (a person's name) in every stored copy of a withdrawn urgent action and its case: documents, "
                        "translations, people, timeline, the search index and cached renders. The audit log records that it happened, "
                        "without the text.",
             "operationId": "redactUrgentAction", "security": SEC, "requestBody": body("redaction"),
             "responses": {**ok("Redacted.", ref("withdrawal_state")), "409": err("The urgent action is published: withdraw it first."),
                           **WITHDRAWAL_ERRORS}}}

openapi = {
    "openapi": "3.1.0",
    "info": {"title": "Vigil API", "version": "1",
             "description": "Urgent actions, cases, documents and targets in the shapes of the vigil.bundle/1 interchange format. "
                            "Errors are {\"error\": true, \"reason\": \"…\"}. Writes need an editor token and application/json."},
    "servers": [{"url": "/"}],
    "paths": paths,
    "components": {"schemas": schemas,
                   "securitySchemes": {"editorToken": {"type": "http", "scheme": "bearer",
                                                       "description": "Created with `vigil token create --role editor`."}}},
}

def dump(path, value):
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        if path.read_text(encoding="utf-8") != text:
            sys.exit(f"{path} is out of date: run python3 scripts/gen_schemas.py")
    else:
        path.write_text(text, encoding="utf-8")

dump(ROOT / "docs/vigil.bundle.schema.json", bundle_schema)
dump(ROOT / "Sources/VigilServer/Resources/openapi.json", openapi)
