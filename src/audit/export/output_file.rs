//! The partial file of an export into a file: how it is written (buffered
//! and, with the `compress` feature, compressed in frames, one ended at each
//! checkpoint) and how a resume reads back what a checkpoint vouches for
//! (the digest of its tail, the records it holds).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::checkpoint::sha256_hex;
use super::write::header;
use super::ExportFormat;
#[cfg(feature = "compress")]
pub(super) use crate::compress::Compression;
#[cfg(feature = "compress")]
use crate::compress::{self, FrameWriter};

/// Without the `compress` feature every output is written as it is.
#[cfg(not(feature = "compress"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
}

#[cfg(not(feature = "compress"))]
impl Compression {
    pub(super) fn name(&self) -> &'static str {
        "none"
    }
}

/// How much of the output's end a checkpoint's digest covers.
const TAIL_BYTES: u64 = 64 * 1024;

/// The lowercase hex SHA-256 of the last [`TAIL_BYTES`] of the first `bytes`
/// bytes of `file`; the file position is left at its end.
pub(super) fn tail_sha256(mut file: &File, bytes: u64) -> io::Result<String> {
    let from = bytes.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::with_capacity((bytes - from) as usize);
    file.take(bytes - from).read_to_end(&mut tail)?;
    file.seek(SeekFrom::End(0))?;
    if (tail.len() as u64) < bytes - from {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the file is shorter than {bytes} bytes"),
        ));
    }
    Ok(sha256_hex(&tail))
}

/// What the first `bytes` bytes of an output hold, decompressed.
pub(super) struct Held {
    /// Bytes, decompressed.
    pub(super) bytes: u64,
    pub(super) records: u64,
}

/// Why [`held`] could not count.
pub(super) enum Unreadable {
    /// The file could not be read.
    File(io::Error),
    /// Its bytes are not what the compression makes.
    Compressed(io::Error),
}

/// What the first `bytes` bytes of `file`, an output in `format` and
/// `compression`, hold; the file position is left at its end.
///
/// Records are counted by line ends, without parsing one: a JSON record as
/// written (compact, and checked to be JSON, whose strings cannot hold a raw
/// line end) never holds one, and a CSV field that does is quoted (a quote
/// inside it doubled), so only a line end outside quotes ends a row.
pub(super) fn held(
    mut file: &File,
    bytes: u64,
    format: ExportFormat,
    compression: Compression,
) -> std::result::Result<Held, Unreadable> {
    file.seek(SeekFrom::Start(0)).map_err(Unreadable::File)?;
    if bytes == 0 {
        // An empty output, whatever the compression: nothing to decode.
        file.seek(SeekFrom::End(0)).map_err(Unreadable::File)?;
        return Ok(Held {
            bytes: 0,
            records: 0,
        });
    }
    // The file's own errors, told apart from the decompressor's.
    let mut raw = FileReads {
        file: file.take(bytes),
        error: None,
    };
    let mut decoded = decompressed(&mut raw, compression).map_err(Unreadable::Compressed)?;
    let mut chunk = vec![0; 64 * 1024];
    let (mut held, mut line_ends, mut quoted) = (0u64, 0u64, false);
    loop {
        let read = match decoded.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                drop(decoded);
                return Err(match raw.error.take() {
                    Some(file_error) => Unreadable::File(file_error),
                    None => Unreadable::Compressed(e),
                });
            }
        };
        held += read as u64;
        let chunk = &chunk[..read];
        if format == ExportFormat::Csv {
            for &byte in chunk {
                match byte {
                    b'"' => quoted = !quoted,
                    b'\n' if !quoted => line_ends += 1,
                    _ => {}
                }
            }
        } else {
            line_ends += memchr::memchr_iter(b'\n', chunk).count() as u64;
        }
    }
    drop(decoded);
    file.seek(SeekFrom::End(0)).map_err(Unreadable::File)?;
    let records = match format {
        ExportFormat::JsonLines => line_ends,
        // The header row ends with one.
        ExportFormat::Csv => line_ends.saturating_sub(1),
        // "[\n", then records separated by ",\n": the header's line end
        // stands for the first record's.
        ExportFormat::Json if held > header(format).len() as u64 => line_ends,
        ExportFormat::Json => 0,
    };
    Ok(Held {
        bytes: held,
        records,
    })
}

/// A reader of the file that keeps its error, if any.
struct FileReads<R> {
    file: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for FileReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf).inspect_err(|e| {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// `raw`, decompressed.
fn decompressed<'a>(
    raw: impl Read + 'a,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    #[cfg(feature = "compress")]
    return compress::decoder(raw, compression);
    #[cfg(not(feature = "compress"))]
    {
        let Compression::None = compression;
        Ok(Box::new(raw))
    }
}

/// The partial file as the export writes it: buffered and, when it is
/// compressed, in frames. Behind a lock because the checkpoint, which sees
/// the writer shared, ends the frame; writes reach it unshared, unlocked.
pub(super) struct OutputFile(Mutex<Output>);

pub(super) enum Output {
    Plain(BufWriter<File>),
    #[cfg(feature = "compress")]
    Framed(FrameWriter<BufWriter<File>>),
}

impl OutputFile {
    pub(super) fn new(file: File, compression: Compression) -> io::Result<Self> {
        let buffered = BufWriter::with_capacity(64 * 1024, file);
        let output = match compression {
            Compression::None => Output::Plain(buffered),
            #[cfg(feature = "compress")]
            compressed => Output::Framed(FrameWriter::new(buffered, compressed)?),
        };
        Ok(Self(Mutex::new(output)))
    }

    /// The output, for a checkpoint.
    pub(super) fn lock(&self) -> MutexGuard<'_, Output> {
        // Nothing panics while holding it; if something did, the output is
        // as the last write left it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn output(&mut self) -> &mut Output {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file, every byte written and its frame ended.
    #[cfg_attr(
        not(feature = "compress"),
        allow(clippy::infallible_destructuring_match)
    )]
    pub(super) fn into_file(self) -> io::Result<File> {
        let buffered = match self.0.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Output::Plain(buffered) => buffered,
            #[cfg(feature = "compress")]
            Output::Framed(framed) => framed.into_inner()?,
        };
        buffered
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

impl Output {
    /// End the frame and flush: the file then holds a complete output.
    pub(super) fn end_frame(&mut self) -> io::Result<&File> {
        let buffered = match self {
            Output::Plain(buffered) => {
                buffered.flush()?;
                buffered
            }
            #[cfg(feature = "compress")]
            Output::Framed(framed) => {
                framed.end_frame()?;
                framed.get_mut()
            }
        };
        Ok(buffered.get_ref())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.output() {
            Output::Plain(buffered) => buffered.write(buf),
            #[cfg(feature = "compress")]
            Output::Framed(framed) => framed.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.output() {
            Output::Plain(buffered) => buffered.write_all(buf),
            #[cfg(feature = "compress")]
            Output::Framed(framed) => framed.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.output() {
            Output::Plain(buffered) => buffered.flush(),
            #[cfg(feature = "compress")]
            Output::Framed(framed) => framed.flush(),
        }
    }
}
