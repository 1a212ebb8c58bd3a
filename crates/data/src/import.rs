//! A folder (or one file) of price files into the market database: every file parsed and
//! checked first, so bad input leaves the database untouched (`systrade data import`, the
//! demo, and the fetchers that land what they download).

use std::path::Path;

use crate::db::{ImportLine, MarketDb};
use crate::error::DataError;
use crate::folder::{Dataset, data_files, parse_all};
use crate::{ParseOptions, ParsedFile};

/// Told of each file read, with the number of files in all.
pub type Progress<'a> = &'a (dyn Fn(&Path, usize) + Sync);

/// Parses every file under `from` (nothing is written); `progress` is told of each file.
pub fn read_folder(
    from: &Path,
    opts: &ParseOptions,
    progress: Progress<'_>,
) -> Result<Vec<ParsedFile>, DataError> {
    let files = data_files(from)?;
    if opts.name.is_some() && files.len() > 1 {
        return Err(DataError::Usage(format!(
            "--name applies to one file, but {} holds {} files",
            from.display(),
            files.len()
        )));
    }
    let n = files.len();
    parse_all(&files, opts, &|p| progress(p, n))
}

/// Parses and stores the files under `from` into the database at `db`; returns what each
/// file did. Two files for one dataset in one import would silently overwrite each other,
/// so they are refused.
pub fn import_folder(
    from: &Path,
    db: &Path,
    opts: &ParseOptions,
    progress: Progress<'_>,
) -> Result<Vec<ImportLine>, DataError> {
    let parsed = read_folder(from, opts, progress)?;
    Dataset::from_files(parsed.clone())?;
    MarketDb::open(db)?.import(&parsed, opts)
}
