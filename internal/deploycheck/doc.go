// Package deploycheck holds the checks a deploy approval can require before a
// person is asked to approve a CI token's deploy of one exact commit, and
// while that deploy's source is uploaded:
//
//   - [GitHub.CheckCommit] asks GitHub whether the commit is contained in one
//     of the allowed branches (compare BRANCH...SHA is "identical" or
//     "behind") or, when the rule allows it, in an open pull request. It
//     answers a [Verdict] (allowed or not, with a sentence saying why); it
//     returns an error only when GitHub could not be asked (network, rate
//     limit, bad credentials, unexpected answers), so that the caller fails
//     closed. Inputs are validated before any request is made: the commit is
//     the full 40-hex SHA (an approval binds one exact commit), the
//     repository "owner/name" with GitHub's characters, branches by git's
//     ref-name rules; path segments are escaped one by one, so no input can
//     add a segment or a query.
//
//   - [ImageRule] and its [Inspector] check the source tarball that `convox
//     build`/`convox deploy` upload (a gzipped tar with convox.yml at its
//     root): every service's `image:` (and an initContainer's) must match an
//     anchored regular expression in which {{GIT_COMMIT}} stands for the
//     approved commit, quoted literally. The proxy tees the upload body into
//     the Inspector while it streams to the rack; the Inspector holds a fixed
//     amount of memory (the decompressor's window, one tar header, and at
//     most [MaxManifestSize] bytes of convox.yml, whose parse is capped to a
//     few MiB), reads every byte so that the writer never blocks for longer
//     than the decompression takes, and gives an [ImageVerdict] after Close.
//     Every byte of the upload is treated as hostile: anything it cannot
//     read the way the rack's build will read it (not gzip, not tar,
//     truncated, no convox.yml or more than one entry that extracts to it, a
//     convox.yml that is not a regular file or is over 1 MiB, ${VAR}
//     interpolation, which the rack fills from the app's environment before
//     parsing, YAML it cannot parse within its limits) fails the check with
//     a reason. The rack reads convox.yml unless the build request names
//     another manifest (the build's "manifest" parameter): where an image
//     rule applies, the build step must refuse any other manifest name.
//
// The package has no state and no storage: the approval feature calls it and
// records the verdicts. Package githubtest is a faithful fake of the GitHub
// endpoints used here, for tests.
package deploycheck
