#!/usr/bin/env python3
"""Writes docs/vigil.bundle.schema.json (JSON Schema 2020-12 of the interchange format) and
Resources/Data/openapi.json (OpenAPI 3.1 of /api/v1), from one description.

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
        "successor_of": opt({**SLUG, "description": "The id of the target this official replaced in office (in the bundle or the directory). The predecessor keeps its row and gets a valid_to; documents keep showing whom they addressed."}),
        "represents": opt({**COUNTRY, "description": "For a diplomatic mission: the country it represents. Given together with accredited_to."}),
        "accredited_to": opt({**COUNTRY, "description": "For a diplomatic mission: the country it is accredited to (its host). Given together with represents."}),
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
        "id": SLUG, "name": TEXT,
        "name_original": opt({"type": "string", "minLength": 1, "maxLength": 300,
                              "description": "The name in its own script (\"Алексей Навальный\"); `name` stays in Latin letters. Needs name_original_language."}),
        "name_original_language": opt({**LANG, "description": "The language tag of name_original (\"ru\", \"ar\"); given exactly when name_original is."}),
        "pronouns": opt(TEXT), "role": opt(TEXT),
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
        "copies_to": {"type": "array", "items": {**obj({"text": opt(TEXT), "target": opt(SLUG),
                                                       "diplomatic_representatives_of": opt({**COUNTRY, "description": "The diplomatic representatives of this country accredited to the reader's country: shown as the embassy of the reader's country when the directory has one (a target with represents and accredited_to). Needs text; not with target."})}),
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
        "corrections": {"type": "array", "maxItems": 50,
                        "description": "Corrections after publication, oldest first; each date is on or after `published`. Left out when there are none.",
                        "items": obj({"date": DAY, "note": {"type": "string", "minLength": 1, "maxLength": 2000}}, ["date", "note"])},
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
WRITE_ERRORS = {"400": err("Not valid JSON."), "401": err("No valid editor token."),
                "403": err("The token's scope does not cover this write (a read token; a bundle needs the import scope)."), "413": err("Body too large."),
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

# Lists give summaries by default: each document without its text, with the address of the
# whole (`href`); `view=full` gives each item as reading it alone does.
TEXT_KEYS = ("body", "take_action", "additional_information", "quote", "corrections")
HREF = {"type": "string", "description": "The whole document: GET /api/v1/urgent-actions/{number}/documents/{id}."}
def summary_of(name):
    b = json.loads(json.dumps(schemas[name]))
    for k in TEXT_KEYS: b["properties"].pop(k, None)
    b["properties"]["href"] = HREF
    b["required"] = [r for r in b["required"] if r not in TEXT_KEYS] + ["href"]
    return b
schemas["document_summary"] = summary_of("document")
schemas["listed_document_summary"] = summary_of("listed_document")
ua_summary = json.loads(json.dumps(schemas["listed_urgent_action"]))
ua_summary["properties"]["documents"] = {"type": "array", "items": ref("document_summary")}
schemas["listed_urgent_action_summary"] = ua_summary
VIEW_Q = q("view", "summary (the default): each document without its text (body, take_action, additional_information, quote, "
                   "corrections), with href, the address of the whole; full: each item whole, as reading it alone gives it.",
           {"enum": ["summary", "full"]})
for path, whole, summary in (("/api/v1/urgent-actions", "listed_urgent_action", "listed_urgent_action_summary"),
                             ("/api/v1/urgent-actions/{number}/documents", "document", "document_summary"),
                             ("/api/v1/documents", "listed_document", "listed_document_summary")):
    get = paths[path]["get"]
    get["parameters"] = get.get("parameters", []) + [VIEW_Q]
    get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["items"] = {
        "oneOf": [ref(summary), ref(whole)]}
    get["responses"]["304"] = {"description": "Not modified: the list is as the ETag given in If-None-Match."}
for path in ("/api/v1/cases", "/api/v1/targets"):
    paths[path]["get"]["responses"]["304"] = {"description": "Not modified: the list is as the ETag given in If-None-Match."}
paths["/api/v1/urgent-actions"]["get"]["responses"]["200"]["description"] = "A page of urgent actions with their documents (summaries unless view=full)."

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

# The newsroom's editorial workflow (/api/v1/drafts): the same service, rules and audit trail as
# the newsroom's pages. Reads need a token of any scope; writes a write (or import) token. A token
# acts with its maker's roles as they are now (a command-line token as a publisher).
UUID_P = path_param("uuid", "The item's id.", {"type": "string", "format": "uuid"})
REVISION_NO = {"type": "integer", "minimum": 1}
STAMP = {"type": "string", "format": "date-time"}
ACTOR = {"type": "object", "required": ["kind", "id"], "properties": {
    "kind": {"enum": ["account", "token", "cli", "system"]}, "id": {"type": ["string", "null"], "format": "uuid"}}}
schemas["draft_change"] = {"type": "object", "required": ["path", "before", "after"], "properties": {
    "path": {"type": "string", "description": "The field's path in the item's JSON: title, people[0].name."},
    "before": {"type": ["string", "null"]}, "after": {"type": ["string", "null"]}}}
schemas["draft_issue"] = {"type": "object", "required": ["path", "message"], "properties": {
    "path": {"type": "string", "description": "JSONPath of the problem in the content: $.title."}, "message": {"type": "string"}}}
DRAFT_FIELDS = {
    "id": {"type": "string", "format": "uuid"},
    "kind": {"enum": ["case", "target", "document"]},
    "state": {"enum": ["draft", "in_review", "approved", "scheduled", "published"]},
    "title": {"type": "string"}, "language": {"type": ["string", "null"]},
    "subject": {"type": ["string", "null"], "description": "The id it publishes as, once known (a new urgent action's document: once numbered)."},
    "case": {"type": ["string", "null"], "description": "A document's case."},
    "urgent_action": {"type": ["string", "null"], "description": "A document's urgent action number (126/19), once known: typed in, "
                                                                 "given when first scheduled, or assigned when published."},
    "number_typed": {"type": "boolean"},
    "current_revision": REVISION_NO, "approved_revision": {"type": ["integer", "null"]}, "published_revision": {"type": ["integer", "null"]},
    "scheduled_at": {"type": ["string", "null"], "format": "date-time"}, "schedule_zone": {"type": ["string", "null"]},
    "scheduled_by": {"type": ["string", "null"]},
    "published_at": {"type": ["string", "null"], "format": "date-time"},
    "late_seconds": {"type": ["integer", "null"], "description": "How late a scheduled publication went out, when more than 90 seconds "
                                                                "(Vigil was down or busy when it came due)."},
    "review_after_publishing": {"type": "boolean", "description": "Published without review: waits for mark_reviewed by another publisher."},
    "missed_schedule": {"type": ["string", "null"], "description": "Why a due schedule could not be published; it stays scheduled."},
    "translation_of": {"type": ["string", "null"]},
    "created_by": {"type": ["string", "null"]}, "created_at": STAMP, "updated_at": STAMP,
}
schemas["draft_summary"] = {"type": "object", "required": list(DRAFT_FIELDS), "properties": DRAFT_FIELDS}
schemas["draft"] = {"type": "object", "required": list(DRAFT_FIELDS) + ["content", "problems", "revisions", "events"], "properties": {
    **DRAFT_FIELDS,
    "content": {"type": "object", "description": "The current revision: a case (without its urgent actions), a target or a document "
                                                 "in the shapes of vigil.bundle/1; a new urgent action's document ids may hold {number}."},
    "problems": {"type": "array", "items": ref("draft_issue"), "description": "What stops it from being submitted; empty when none."},
    "revisions": {"type": "array", "maxItems": 200, "description": "Newest first, without their content.", "items": {
        "type": "object", "required": ["number", "author", "created_at", "content_hash"], "properties": {
            "number": REVISION_NO, "author": ACTOR, "comment": {"type": ["string", "null"]}, "created_at": STAMP,
            "content_hash": {"type": "string"}}}},
    "events": {"type": "array", "maxItems": 200, "description": "Newest first: who moved it, when, from which state to which.", "items": {
        "type": "object", "required": ["at", "actor", "action", "from", "to", "revision"], "properties": {
            "at": STAMP, "actor": ACTOR, "action": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"},
            "revision": REVISION_NO, "comment": {"type": ["string", "null"]}}}},
}}
schemas["draft_revision"] = {"type": "object", "required": ["item", "number", "content", "content_hash", "author", "created_at"], "properties": {
    "item": {"type": "string", "format": "uuid"}, "number": REVISION_NO, "content": {"type": "object"},
    "content_hash": {"type": "string"}, "author": ACTOR, "comment": {"type": ["string", "null"]}, "created_at": STAMP}}
schemas["draft_comparison"] = {"type": "object", "required": ["item", "a", "b", "changes"], "properties": {
    "item": {"type": "string", "format": "uuid"}, "a": REVISION_NO, "b": REVISION_NO,
    "changes": {"type": "array", "items": ref("draft_change")}}}
schemas["new_draft"] = obj({
    "kind": {"enum": ["case", "target", "document"]},
    "content": {"type": "object", "description": "The first revision; it may be incomplete (its problems are listed)."},
    "case": {**SLUG, "description": "A document of a new urgent action: its case (published, or being written in the newsroom)."},
    "urgent_action": {"type": "string", "description": "A document (update, outcome, translation) of an existing urgent action: 126/19."},
    "number": {"type": "string", "pattern": "^[1-9][0-9]{0,3}/[0-9]{2}$",
               "description": "A new urgent action's number typed in (it comes from elsewhere); 409 if taken. Left out, the number is "
                              "given when the item is first scheduled, or when it is published."},
    "translation_of": {**SLUG, "description": "The published document it translates (also read from the content's translation_of)."},
    "comment": {"type": "string", "maxLength": 2000},
}, ["kind", "content"])
schemas["draft_save"] = obj({"base_revision": {**REVISION_NO, "description": "The revision the client started from."},
                             "content": {"type": "object"}, "comment": {"type": "string", "maxLength": 2000}},
                            ["base_revision", "content"])
schemas["draft_restore"] = obj({"revision": {**REVISION_NO, "description": "The earlier revision whose content becomes the next."},
                                "base_revision": REVISION_NO}, ["revision", "base_revision"])
schemas["draft_open"] = obj({"kind": {"enum": ["case", "target", "document"]}, "subject": SLUG}, ["kind", "subject"])
schemas["draft_step"] = obj({
    "step": {"enum": ["submit", "request_changes", "approve", "schedule", "unschedule", "publish", "publish_without_review", "mark_reviewed"],
             "description": "submit (editor: draft → in review); request_changes (publisher, comment required: → draft); approve "
                            "(publisher, not the revision's author: in review → approved); schedule (publisher: approved → scheduled, "
                            "with at); unschedule (→ approved); publish (publisher: approved → published); publish_without_review "
                            "(publisher, comment required: from draft, in review or approved); mark_reviewed (another publisher)."},
    "revision": {**REVISION_NO, "description": "The revision the client decided on: a newer one answers 409 with the changes."},
    "comment": {"type": "string", "maxLength": 2000, "description": "Kept with the step; for a correction of a published document, "
                                                                    "shown to readers as its dated note."},
    "at": {"type": "string", "format": "date-time", "description": "schedule only: when, RFC 3339 with its offset; in the future, "
                                                                    "at most 366 days ahead."},
    "zone": {"type": "string", "description": "schedule only: the IANA time zone the time was chosen in (Europe/Madrid)."},
}, ["step", "revision"])
schemas["draft_stale"] = {"type": "object", "required": ["error", "reason", "base_revision", "current_revision", "changes"], "properties": {
    "error": {"const": True}, "reason": {"type": "string"}, "code": {"type": "string"},
    "base_revision": REVISION_NO, "current_revision": REVISION_NO, "changes": {"type": "array", "items": ref("draft_change")}}}
schemas["error"]["properties"]["code"] = {"type": "string", "description": "For a workflow refusal: its kind (draft_refused_state, "
                                                                          "draft_refused_own_work, …)."}
STALE = {"409": {"description": "Stale: the item changed since the revision given; nothing was written. The changes between the two.",
                 "content": {"application/json": {"schema": ref("draft_stale")}}}}
READ_ERRORS = {"401": err("No valid API token: unpublished work is never public."), "403": err("The token may not read it (its maker no longer publishes).")}
DRAFT_WRITE_ERRORS = {**WRITE_ERRORS, "403": err("The token's scope does not cover writes, or its roles do not allow this step "
                                                 "(four eyes: the author of a revision cannot approve it).")}
paths["/api/v1/drafts"] = {
    "get": {"summary": "Newsroom items, most recently changed first.", "operationId": "listDrafts", "security": SEC,
            "parameters": [q("state", "Only items in this state.", {"enum": ["draft", "in_review", "approved", "scheduled", "published"]}),
                           q("kind", "Only items of this kind.", {"enum": ["case", "target", "document"]}), LIMIT, CURSOR],
            "responses": {**ok("A page of items (without content).", page_of("draft_summary")), **BAD, **READ_ERRORS}},
    "post": {"summary": "Start a new item: a case, a target, or a document (of a new urgent action, or of an existing one).",
             "operationId": "createDraft", "security": SEC, "requestBody": body("new_draft"),
             "responses": {**ok("Created; Location is the item.", ref("draft"), "201"), "409": err("The number typed in is taken."),
                           **DRAFT_WRITE_ERRORS}}}
paths["/api/v1/drafts/open"] = {
    "post": {"summary": "The item that edits a published case, target or document: made on first use with what readers see as its "
                        "published revision (the same item afterwards).",
             "operationId": "openDraft", "security": SEC, "requestBody": body("draft_open"),
             "responses": {**ok("The item.", ref("draft")), "404": err("Nothing published with that id."), **DRAFT_WRITE_ERRORS}}}
paths["/api/v1/drafts/{uuid}"] = {
    "parameters": [UUID_P],
    "get": {"summary": "An item: where it stands, its current content and problems, its revisions and events.", "operationId": "getDraft",
            "security": SEC, "responses": {**ok("The item.", ref("draft")), **NOTFOUND, **READ_ERRORS}},
    "put": {"summary": "Save the next revision, from the revision the client started from. An item in review, approved, scheduled or "
                       "published goes back to draft (a published one stays live as it was). The same content again saves nothing.",
            "operationId": "saveDraft", "security": SEC, "requestBody": body("draft_save"),
            "responses": {**ok("Saved.", ref("draft")), **STALE, **NOTFOUND, **DRAFT_WRITE_ERRORS}}}
paths["/api/v1/drafts/{uuid}/revisions/{number}"] = {
    "parameters": [UUID_P, path_param("number", "The revision's number.", {"type": "integer", "minimum": 1})],
    "get": {"summary": "One revision of an item, with its content.", "operationId": "getDraftRevision", "security": SEC,
            "responses": {**ok("The revision.", ref("draft_revision")), **BAD, **NOTFOUND, **READ_ERRORS}}}
paths["/api/v1/drafts/{uuid}/compare"] = {
    "parameters": [UUID_P],
    "get": {"summary": "The fields that differ between two revisions.", "operationId": "compareDraftRevisions", "security": SEC,
            "parameters": [{**q("a", "A revision number.", REVISION_NO), "required": True},
                           {**q("b", "Another revision number.", REVISION_NO), "required": True}],
            "responses": {**ok("The changes, field by field.", ref("draft_comparison")), **BAD, **NOTFOUND, **READ_ERRORS}}}
paths["/api/v1/drafts/{uuid}/steps"] = {
    "parameters": [UUID_P],
    "post": {"summary": "Move an item one step in the workflow, with the browser's rules: roles, four eyes, comments, schedules. "
                        "Publishing goes through the one publishing path; a scheduled item is published once when due, by whichever "
                        "Vigil process finds it first.",
             "operationId": "stepDraft", "security": SEC, "requestBody": body("draft_step"),
             "responses": {**ok("The item after the step.", ref("draft")),
                           "409": {"description": "Stale (a newer revision: draft_stale with the changes), or the step does not apply "
                                                  "in the item's state, or someone moved it meanwhile (error with code).",
                                   "content": {"application/json": {"schema": {"anyOf": [ref("draft_stale"), ref("error")]}}}},
                           **NOTFOUND, **DRAFT_WRITE_ERRORS}}}
paths["/api/v1/drafts/{uuid}/restore"] = {
    "parameters": [UUID_P],
    "post": {"summary": "Make an earlier revision's content the next revision.", "operationId": "restoreDraft", "security": SEC,
             "requestBody": body("draft_restore"),
             "responses": {**ok("Restored.", ref("draft")), **STALE, **NOTFOUND, **DRAFT_WRITE_ERRORS}}}

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
dump(ROOT / "Resources/Data/openapi.json", openapi)
