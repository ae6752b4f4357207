// swift-tools-version:6.0
// Times Markdown.parse (VigilCore, on cmark) on adversarial and ordinary input: see
// bench/markdown_adversarial.py, which builds this in release mode and runs it beside the
// `cmark` command-line program.
import PackageDescription

let package = Package(
    name: "markdown-bench",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "vigil", path: "../..")],
    targets: [
        .executableTarget(
            name: "markdown-bench",
            dependencies: [.product(name: "VigilCore", package: "vigil")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
