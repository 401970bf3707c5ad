// A disk that really fills up, for the history's full-disk tests (unit and end-to-end).

import Foundation
import Glibc

/// A tmpfs of `kilobytes` mounted at a new folder, for a disk that really fills up (ENOSPC); nil
/// where mounting is not allowed (not root, or a container without the capability). Unlike a file
/// size limit (RLIMIT_FSIZE), it leaves a sanitizer's runtime alone: ThreadSanitizer's dies with
/// SIGBUS under one.
public final class SmallDisk {
    public let folder: String

    public init?(kilobytes: Int) {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-tmpfs-\(UUID().uuidString)").path
        guard mkdir(folder, 0o700) == 0 else { return nil }
        guard mount("netrepl-test", folder, "tmpfs", 0, "size=\(kilobytes)k,mode=0700") == 0 else {
            rmdir(folder)
            return nil
        }
    }

    deinit {
        umount2(folder, Int32(MNT_DETACH))
        rmdir(folder)
    }

    public static let available: Bool = SmallDisk(kilobytes: 4) != nil
}
