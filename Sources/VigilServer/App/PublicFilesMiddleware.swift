import Foundation
import Vapor

/// Serves `Public/` through Vapor's `FileMiddleware`, but asks it only about addresses that can
/// name a file there: the first segment one of `Public/`'s own entries (`css`), every segment a
/// plain file name. Vapor's middleware stats whatever address it is given and answers 500 when
/// the file system refuses the name: a segment longer than 255 bytes (ENAMETOOLONG), a segment
/// under a file (`/css/site.css/..`, ENOTDIR). Every other address goes on to the routes.
struct PublicFilesMiddleware: Middleware {
    let files: FileMiddleware
    let publicNames: Set<String>

    func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        guard let path = request.url.path.removingPercentEncoding, Self.mayName(path, publicNames: publicNames) else {
            return next.respond(to: request)
        }
        return files.respond(to: request, chainingTo: next)
    }

    static func mayName(_ path: String, publicNames: Set<String>) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard let first = segments.first, publicNames.contains(String(first)), path.utf8.count <= 1024 else { return false }
        return segments.allSatisfy { s in
            !s.isEmpty && s != "." && s != ".." && s.utf8.count <= 255 && !s.contains("\0")
        }
    }
}
