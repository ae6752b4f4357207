import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

extension JSONValue: AsyncResponseEncodable {
    public func encodeResponse(for request: Request) async throws -> Response {
        jsonResponse(self)
    }
}

func jsonResponse(_ value: JSONValue, status: HTTPResponseStatus = .ok, location: String? = nil) -> Response {
    var headers: HTTPHeaders = ["Content-Type": "application/json; charset=utf-8"]
    if let location { headers.add(name: .location, value: location) }
    return Response(status: status, headers: headers, body: .init(string: value.serialized(pretty: true)))
}

/// The query string of a list request, checked: unknown parameters are refused so typos surface.
struct ListQuery {
    var values: [String: String]
    var limit: Int
    var cursor: [String]?

    init(_ req: Request, allowed: Set<String>) throws {
        let all = allowed.union(["limit", "cursor"])
        var values: [String: String] = [:]
        if let query = req.url.query, !query.isEmpty {
            for part in query.split(separator: "&") {
                let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let raw = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
                guard let value = raw.removingPercentEncoding else {
                    throw Abort(.badRequest, reason: "The query parameter \"\(key)\" is not correctly percent-encoded.")
                }
                guard all.contains(key) else {
                    throw Abort(.badRequest, reason: "Unknown query parameter \"\(key)\"; this list accepts: \(all.sorted().joined(separator: ", ")).")
                }
                guard values[key] == nil else { throw Abort(.badRequest, reason: "The query parameter \"\(key)\" is given twice.") }
                if !value.isEmpty { values[key] = value }
            }
        }
        self.values = values
        if let l = values["limit"] {
            guard let n = Int(l), (1...100).contains(n) else {
                throw Abort(.badRequest, reason: "limit must be a whole number from 1 to 100.")
            }
            limit = n
        } else {
            limit = 20
        }
        if let c = values["cursor"] {
            guard let decoded = Cursor.decode(c) else {
                throw Abort(.badRequest, reason: "cursor is not valid; pass the next_cursor of the previous page unchanged.")
            }
            cursor = decoded
        }
    }

    func country() throws -> String? {
        guard let c = values["country"] else { return nil }
        if let p = CountryCode.problem(c) { throw Abort(.badRequest, reason: "country \(p).") }
        return c
    }
    func slug(_ key: String) throws -> String? {
        guard let v = values[key] else { return nil }
        if let p = Slug.problem(v) { throw Abort(.badRequest, reason: "\(key) \(p).") }
        return v
    }
    func language() throws -> String? {
        guard let l = values["language"] else { return nil }
        if let p = LanguageTag.problem(l) { throw Abort(.badRequest, reason: "language: \(p).") }
        return l
    }
    func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let v = values[key] else { return nil }
        guard let e = E(rawValue: v) else {
            throw Abort(.badRequest, reason: "\(key) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return e
    }
    /// `updated_since`: an ISO 8601 date (`2026-01-31`) or date-time (`2026-01-31T12:00:00Z`).
    func updatedSince() throws -> Date? {
        guard let v = values["updated_since"] else { return nil }
        let full = ISO8601DateFormatter()
        if let d = full.date(from: v) { return d }
        let frac = ISO8601DateFormatter()
        frac.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = frac.date(from: v) { return d }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if v.count == 10, let d = day.date(from: v) { return d }
        throw Abort(.badRequest, reason: "updated_since must be an ISO 8601 date or date-time, like 2026-01-31 or 2026-01-31T12:00:00Z.")
    }
}

/// Opaque page cursors: base64url of the sort key of the last item on the page.
enum Cursor {
    static func encode(_ parts: [String]) -> String {
        let json = JSONValue.array(parts.map { .string($0) }).serialized(pretty: false)
        return Data(json.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    static func decode(_ s: String) -> [String]? {
        guard s.count <= 1024 else { return nil }
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard let data = Data(base64Encoded: b), let v = try? JSONValue.parse(data), let a = v.arrayValue,
              !a.isEmpty, a.count <= 4 else { return nil }
        let parts = a.compactMap(\.stringValue)
        return parts.count == a.count ? parts : nil
    }
}

func page(_ items: [JSONValue], limit: Int, next: [String]?) -> JSONValue {
    .object(["data": .array(items), "next_cursor": next.map { .string(Cursor.encode($0)) } ?? .null])
}

/// Reads a JSON request body: only `application/json`, and only valid JSON.
func jsonBody(_ req: Request) throws -> JSONValue {
    guard let type = req.headers.contentType, type.type == "application", type.subType == "json" else {
        throw Abort(.unsupportedMediaType, reason: "Send the body as application/json.")
    }
    guard let buffer = req.body.data, buffer.readableBytes > 0 else {
        throw Abort(.badRequest, reason: "The request body is empty; send a JSON object.")
    }
    return try JSONValue.parse(Data(buffer: buffer))
}

/// API tokens: `Authorization: Bearer vgl_…`. Only a SHA-256 of each token is stored.
enum APIToken {
    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let b64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "vgl_" + b64
    }

    static let roles = ["editor", "admin"]
    /// In increasing power: read < write < import.
    static let scopes = ["read", "write", "import"]

    /// Creates a token (made on the command line, or by the editor `createdBy`) and returns it
    /// with its id; only its hash is kept.
    static func create(role: String, scope: String = "import", days: Int = 90, label: String?, createdBy: UUID? = nil,
                       on db: any Database, now: Date = Date()) async throws -> (token: String, id: UUID) {
        let token = generate()
        let row = APITokenModel()
        row.tokenHash = hash(token); row.role = role; row.label = label; row.createdAt = now; row.createdBy = createdBy
        row.scope = scope; row.expiresAt = now.addingTimeInterval(TimeInterval(days) * 86_400)
        try await row.create(on: db)
        return (token, row.id!)
    }

    /// Revokes the tokens an account made (on erasure or loss of its role); returns how many.
    @discardableResult
    static func revoke(madeBy supporter: UUID, on db: any Database, now: Date = Date()) async throws -> Int {
        let tokens = try await APITokenModel.query(on: db).filter(\.$createdBy == supporter).filter(\.$revokedAt == nil).all()
        for t in tokens { t.revokedAt = now; try await t.update(on: db) }
        return tokens.count
    }
}

/// Lets a request through only with a valid, unrevoked, unexpired editor (or admin) token
/// whose scope covers `scope`; every write made with a token is a security event.
struct EditorTokenMiddleware: AsyncMiddleware {
    var scope = "write"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let bearer = request.headers.bearerAuthorization else {
            throw Abort(.unauthorized, headers: ["WWW-Authenticate": "Bearer"],
                        reason: "This endpoint needs an editor's API token: Authorization: Bearer <token> (create one with `vigil token create --role editor`).")
        }
        guard bearer.token.utf8.count <= 200 else {
            throw Abort(.unauthorized, headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""], reason: "The API token is not valid.")
        }
        let row = try await APITokenModel.query(on: request.db)
            .filter(\.$tokenHash == APIToken.hash(bearer.token)).first()
        guard let row, row.revokedAt == nil else {
            request.securityLog.record("token.refused", ["reason": row == nil ? "unknown" : "revoked"])
            throw Abort(.unauthorized, headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""],
                        reason: "The API token is not valid or has been revoked.")
        }
        if let expiry = row.expiresAt, expiry <= Date() {
            request.securityLog.record("token.refused", ["token": row.id!.uuidString.lowercased(), "reason": "expired"])
            throw Abort(.unauthorized, headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""],
                        reason: "The API token has expired; make a new one.")
        }
        guard ["editor", "admin"].contains(row.role) else {
            throw Abort(.forbidden, reason: "This token's role may not write.")
        }
        let have = APIToken.scopes.firstIndex(of: row.scope) ?? 0, need = APIToken.scopes.firstIndex(of: scope) ?? APIToken.scopes.count
        guard have >= need else {
            request.securityLog.record("token.refused", ["token": row.id!.uuidString.lowercased(), "reason": "scope", "scope": row.scope])
            throw Abort(.forbidden, headers: ["WWW-Authenticate": "Bearer error=\"insufficient_scope\""],
                        reason: "This token's scope is \(row.scope); this request needs \(scope).")
        }
        request.storage[APITokenIDKey.self] = row.id!
        let response = try await next.respond(to: request)
        if request.method != .GET, request.method != .HEAD {
            request.securityLog.record("token.write", ["token": row.id!.uuidString.lowercased(), "method": request.method.rawValue,
                                                       "path": request.url.path, "status": String(response.status.code)])
        }
        return response
    }
}

struct APITokenIDKey: StorageKey { typealias Value = UUID }

extension Request {
    /// Who makes a publishing write through the API: the token that authorised the request.
    var publishingAuthor: Author {
        storage[APITokenIDKey.self].map(Author.token) ?? Author(kind: "api")
    }
}
