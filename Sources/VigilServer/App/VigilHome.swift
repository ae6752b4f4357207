import Foundation

/// Where Vigil's read-only files are: `Resources/Views` (templates), `Resources/Locales` (string
/// catalogues), `Resources/Data` (the demo bundle, the OpenAPI document, the common-password
/// list) and `Public` (static files). Found whatever the working directory, in this order:
///
/// 1. `VIGIL_HOME`, when set (it must hold `Resources/Views`);
/// 2. an installed layout: `PREFIX/bin/vigil` beside `PREFIX/share/vigil`;
/// 3. the directory of the executable or one of its parents (an unpacked `make dist` tarball,
///    or a build inside the project: `.build/<triple>/debug/vigil`);
/// 4. the working directory.
///
/// Nothing else is read from the working directory; the data (database, secret) is wherever the
/// environment says (`VIGIL_DATABASE_PATH`, `VIGIL_SECRET_FILE`).
public struct VigilHome: Sendable, Equatable {
    /// The directory holding `Resources` and `Public`, with a trailing slash.
    public let path: String

    public var views: String { path + "Resources/Views" }
    public var locales: String { path + "Resources/Locales" }
    public var data: String { path + "Resources/Data" }
    public var publicDirectory: String { path + "Public/" }

    /// A file of `Resources/Data`.
    public func dataFile(_ name: String) -> URL { URL(fileURLWithPath: data).appendingPathComponent(name) }

    public struct NotFound: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether `directory` holds Vigil's resources.
    static func holdsResources(_ directory: String) -> Bool {
        var isDir: ObjCBool = false
        let views = (directory.hasSuffix("/") ? directory : directory + "/") + "Resources/Views"
        return FileManager.default.fileExists(atPath: views, isDirectory: &isDir) && isDir.boolValue
    }

    /// The real path of the running executable (`/proc/self/exe` on Linux).
    public static func executablePath() -> String? {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return link }
        return Bundle.main.executableURL?.resolvingSymlinksInPath().path
    }

    /// The candidates, in order, with what each is (for the message when none holds the resources).
    static func candidates(environment: [String: String], executable: String?, workingDirectory: String) -> [String] {
        var list: [String] = []
        if let exe = executable {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent().standardizedFileURL
            list.append(dir.deletingLastPathComponent().appendingPathComponent("share/vigil").path)
            for _ in 0..<5 {
                list.append(dir.path)
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        list.append(workingDirectory)
        return list
    }

    /// Finds the home, or says where it looked.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String? = executablePath(),
                              workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> VigilHome {
        if let named = environment["VIGIL_HOME"], !named.isEmpty {
            let absolute = named.hasPrefix("/") ? named : workingDirectory + "/" + named
            guard holdsResources(absolute) else {
                throw NotFound(description: "VIGIL_HOME is \(named), which holds no Resources/Views: point it at the directory that holds Vigil's Resources and Public (share/vigil in an installed copy).")
            }
            return VigilHome(directory: absolute)
        }
        let tried = candidates(environment: environment, executable: executable, workingDirectory: workingDirectory)
        for dir in tried where holdsResources(dir) { return VigilHome(directory: dir) }
        throw NotFound(description: "Cannot find Vigil's resources (Resources/Views) in \(tried.joined(separator: ", ")). Install vigil with `make install`, unpack the whole `make dist` tarball, or set VIGIL_HOME to the directory that holds Resources and Public.")
    }

    public init(directory: String) {
        path = directory.hasSuffix("/") ? directory : directory + "/"
    }

    /// The home of this process, found once.
    public static let current: Result<VigilHome, NotFound> = {
        do { return .success(try locate()) } catch let e as NotFound { return .failure(e) } catch {
            return .failure(NotFound(description: "\(error)"))
        }
    }()

    /// A file of `Resources/Data` of this process's home, or nil when there is no home.
    static func currentDataFile(_ name: String) -> URL? {
        guard case .success(let home) = current else { return nil }
        return home.dataFile(name)
    }
}
