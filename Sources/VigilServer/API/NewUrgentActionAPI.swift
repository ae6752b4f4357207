import Foundation
import Vapor
import VigilCore

/// `POST /api/v1/cases/{id}/urgent-actions`: a new urgent action of a case, numbered by Vigil
/// (or with a number typed in), published through the publisher like every other write.
extension APIController {
    func createUrgentAction(req: Request) async throws -> Response {
        let caseID = try slugParameter(req, "id", what: "case")
        let new = try NewUrgentAction.read(try jsonBody(req), caseID: caseID)
        let result = try await publish(req, .newUrgentAction(new))
        guard let number = result.createdUrgentAction else {
            throw Refusal(.internalServerError, "refusal_urgent_action_was_written_but")
        }
        let body: JSONValue = .object([
            "number": .string(number.description),
            "id": .string(number.slug),
            "url": .string(baseURL + Endpoint.urgentAction(number).path),
            "documents": .array(new.documents(numbered: number).map { .string($0.id) }),
        ])
        return jsonResponse(body, status: .created, location: Endpoint.apiUrgentAction(number).path)
    }
}

extension Endpoint {
    static func apiUrgentAction(_ number: UANumber) -> Endpoint { Endpoint(.apiUrgentAction, [number.slug]) }
}
