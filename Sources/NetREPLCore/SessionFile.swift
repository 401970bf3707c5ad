// Reading a session file for -f: its lines as bytes, in order, a comment line (starting with #)
// kept as an empty line so that line numbers in failed checks are the file's own.

import NetREPLTransport
import SystemPackage

public enum SessionFile {
    /// The largest session file read (a script, not a data set).
    public static let maximumSize = 16 << 20

    public static func read(_ path: String) -> Result<[Line], Errno> {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly)
            var bytes: [UInt8] = []
            try fd.closeAfter {
                var chunk = [UInt8](repeating: 0, count: 65_536)
                while bytes.count <= maximumSize {
                    let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                    if n == 0 { break }
                    bytes += chunk[..<n]
                }
            }
            guard bytes.count <= maximumSize else { return .failure(.fileTooLarge) }
            return .success(lines(bytes))
        } catch let error as Errno {
            return .failure(error)
        } catch {
            return .failure(.ioError)
        }
    }

    /// The lines of `bytes` (LF or CR LF), comments blanked.
    static func lines(_ bytes: [UInt8]) -> [Line] {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { $0.last == 13 ? Array($0.dropLast()) : Array($0) }
        if lines.last == [] { lines.removeLast() }
        return lines.map { $0.first == UInt8(ascii: "#") ? Line("") : Line(bytes: $0) }
    }
}
