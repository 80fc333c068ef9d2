//! Compressed output written in frames (feature `compress`): gzip members or
//! zstd frames, each ended on request, so that a file cut back to the end of
//! any frame is a complete stream.
//!
//! A [`FrameWriter`] compresses what is written to it into the current frame
//! and [`FrameWriter::end_frame`] finishes that frame (its trailer, checksum
//! included) and flushes it to the writer underneath. Concatenated gzip
//! members and zstd frames decode as one stream: `gzip -dc`, `zcat` and
//! `zstd -dc` read such a file whole, and so do flate2's `MultiGzDecoder`,
//! zstd's `Decoder` and [`decoder`]. This is what lets an export end a frame
//! at each checkpoint and a resume cut the file back to it and append new
//! frames.
//!
//! Gzip is compressed at level 6 (gzip's default) and zstd at level 3
//! (zstd's default), each zstd frame with its content checksum.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use flate2::write::GzEncoder;

/// Compressed bytes collected before they are handed to the writer
/// underneath: what a [`FrameWriter`] holds beyond its compressor's own state.
const DRAIN_BYTES: usize = 64 * 1024;

/// How an output is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Not compressed.
    #[default]
    None,
    /// gzip (RFC 1952), one member per frame.
    Gzip,
    /// Zstandard (RFC 8878), with content checksums.
    Zstd,
}

impl Compression {
    /// The name as flags and checkpoints spell it: `none`, `gzip` or `zstd`.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The file name suffix of the compression: `""`, `".gz"` or `".zst"`.
    pub fn suffix(&self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }

    /// The compression a file name's suffix calls for: [`Compression::Gzip`]
    /// for `.gz`, [`Compression::Zstd`] for `.zst` (in any case), `None` for
    /// any other name (an uncompressed file).
    pub fn from_path_suffix(path: &Path) -> Option<Compression> {
        let extension = path.extension()?.to_str()?;
        [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find(|c| c.suffix()[1..].eq_ignore_ascii_case(extension))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compression name that is not `none`, `gzip` or `zstd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCompression(String);

impl fmt::Display for UnknownCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown compression `{}`: expected none, gzip or zstd",
            self.0
        )
    }
}

impl std::error::Error for UnknownCompression {}

impl FromStr for Compression {
    type Err = UnknownCompression;

    /// `none`, `gzip` or `zstd`, as [`Compression::name`] spells them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Compression::None, Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| UnknownCompression(name.to_owned()))
    }
}

/// The frame being written.
enum Frame {
    /// No frame is open: nothing was written since the last one ended (or
    /// nothing is compressed).
    Closed,
    Gzip(GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

/// A writer that compresses into frames it ends on request; see the
/// [module docs](self).
///
/// Each frame's compressed bytes are passed to the writer underneath as they
/// accumulate (every 64 KiB) and in full by [`FrameWriter::end_frame`].
/// [`Write::flush`] passes on what the compressor has produced and flushes
/// the writer underneath, but does not end the frame: only once a frame is
/// ended do its bytes decode. With [`Compression::None`] writes go straight
/// through.
///
/// A frame still open when the writer is dropped is not finished: what it
/// passed on is an incomplete frame. After a failed write, every later call
/// fails too (the frame lost bytes), except [`FrameWriter::get_ref`] and
/// [`FrameWriter::get_mut`].
pub struct FrameWriter<W: Write> {
    inner: W,
    compression: Compression,
    frame: Frame,
    /// Whether this writer has ended a frame.
    ended_one: bool,
    /// Whether a write failed (the open frame is broken).
    failed: bool,
}

impl<W: Write> fmt::Debug for FrameWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameWriter")
            .field("compression", &self.compression)
            .field("frame_open", &!matches!(self.frame, Frame::Closed))
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<W: Write> FrameWriter<W> {
    /// A writer compressing into `inner`; the first frame starts with the
    /// first byte written.
    ///
    /// # Errors
    /// None today: a compressor is set up when its frame opens, and its
    /// errors come from the write that opens it.
    pub fn new(inner: W, compression: Compression) -> io::Result<Self> {
        Ok(Self {
            inner,
            compression,
            frame: Frame::Closed,
            ended_one: false,
            failed: false,
        })
    }

    /// The compression this writer applies.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Finish the current frame (gzip member, zstd frame) and flush it to the
    /// writer underneath, whose bytes so far are then a complete stream; the
    /// next write starts a new frame. Nothing happens when nothing was
    /// written since the last frame ended. Without compression, this flushes
    /// the writer underneath.
    ///
    /// # Errors
    /// The compressor's or the writer underneath's; after one, the writer is
    /// unusable (see [`FrameWriter`]).
    pub fn end_frame(&mut self) -> io::Result<()> {
        self.check_usable()?;
        let result = self.finish_frame();
        self.failed = result.is_err();
        result
    }

    /// The writer underneath.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The writer underneath, e.g. to sync the file it writes to. Writing to
    /// it while a frame is open corrupts that frame.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// End the frame ([`FrameWriter::end_frame`]) and return the writer
    /// underneath. A compressing writer that never ended a frame writes an
    /// empty one first, so that even an output without data decodes.
    ///
    /// # Errors
    /// As [`FrameWriter::end_frame`].
    pub fn into_inner(mut self) -> io::Result<W> {
        self.end_frame()?;
        if self.compression != Compression::None && !self.ended_one {
            self.open_frame()?;
            self.finish_frame()?;
        }
        Ok(self.inner)
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this compressed output failed, leaving its frame incomplete",
            ));
        }
        Ok(())
    }

    fn open_frame(&mut self) -> io::Result<()> {
        self.frame = match self.compression {
            Compression::None => Frame::Closed,
            Compression::Gzip => Frame::Gzip(GzEncoder::new(
                Vec::with_capacity(DRAIN_BYTES),
                flate2::Compression::default(),
            )),
            Compression::Zstd => {
                let mut encoder =
                    zstd::stream::write::Encoder::new(Vec::with_capacity(DRAIN_BYTES), 0)?;
                encoder.include_checksum(true)?;
                Frame::Zstd(encoder)
            }
        };
        Ok(())
    }

    /// The frame's bytes, finished, passed on and flushed.
    fn finish_frame(&mut self) -> io::Result<()> {
        let finished = match std::mem::replace(&mut self.frame, Frame::Closed) {
            Frame::Closed if self.compression == Compression::None => return self.inner.flush(),
            Frame::Closed => return Ok(()),
            Frame::Gzip(encoder) => encoder.finish()?,
            Frame::Zstd(encoder) => encoder.finish()?,
        };
        self.inner.write_all(&finished)?;
        self.inner.flush()?;
        self.ended_one = true;
        Ok(())
    }

    /// Compress `buf` into the open frame (opened if need be), passing on the
    /// compressed bytes once there are [`DRAIN_BYTES`] of them.
    fn compress(&mut self, buf: &[u8]) -> io::Result<()> {
        if matches!(self.frame, Frame::Closed) {
            self.open_frame()?;
        }
        let out = match &mut self.frame {
            Frame::Closed => return self.inner.write_all(buf),
            Frame::Gzip(encoder) => {
                encoder.write_all(buf)?;
                encoder.get_mut()
            }
            Frame::Zstd(encoder) => {
                encoder.write_all(buf)?;
                encoder.get_mut()
            }
        };
        if out.len() >= DRAIN_BYTES {
            self.inner.write_all(out)?;
            out.clear();
        }
        Ok(())
    }

    /// Pass on the compressed bytes collected so far.
    fn drain(&mut self) -> io::Result<()> {
        let out = match &mut self.frame {
            Frame::Closed => return Ok(()),
            Frame::Gzip(encoder) => encoder.get_mut(),
            Frame::Zstd(encoder) => encoder.get_mut(),
        };
        self.inner.write_all(out)?;
        out.clear();
        Ok(())
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_usable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.compression == Compression::None {
            return self.inner.write(buf);
        }
        let result = self.compress(buf);
        self.failed = result.is_err();
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check_usable()?;
        let result = self.drain().and_then(|()| self.inner.flush());
        self.failed = result.is_err();
        result
    }
}

/// A reader of `inner` decompressed: every gzip member or zstd frame in turn,
/// as one stream (as written by [`FrameWriter`]). With
/// [`Compression::None`], `inner` as it is.
///
/// # Errors
/// When the zstd decompressor cannot be set up; errors in the data come from
/// the reader's `read`.
pub fn decoder<'a, R: Read + 'a>(
    inner: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(inner),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(inner)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(inner)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPRESSED: [Compression; 2] = [Compression::Gzip, Compression::Zstd];

    fn decoded(bytes: &[u8], compression: Compression) -> Vec<u8> {
        let mut out = Vec::new();
        decoder(bytes, compression)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Text that compresses, of `len` bytes, different for each `seed`.
    fn text(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"abcdefghij\n"[(i * (seed as usize + 1) / 7) % 11])
            .collect()
    }

    #[test]
    fn names_suffixes_and_paths() {
        for (compression, name, suffix) in [
            (Compression::None, "none", ""),
            (Compression::Gzip, "gzip", ".gz"),
            (Compression::Zstd, "zstd", ".zst"),
        ] {
            assert_eq!(compression.to_string(), name);
            assert_eq!(name.parse::<Compression>(), Ok(compression));
            assert_eq!(compression.suffix(), suffix);
        }
        let error = "gz".parse::<Compression>().unwrap_err();
        assert!(error.to_string().contains("none, gzip or zstd"), "{error}");
        let of = |name: &str| Compression::from_path_suffix(Path::new(name));
        assert_eq!(of("audit.jsonl.gz"), Some(Compression::Gzip));
        assert_eq!(of("dir/audit.JSONL.GZ"), Some(Compression::Gzip));
        assert_eq!(of("audit.jsonl.zst"), Some(Compression::Zstd));
        assert_eq!(of("audit.jsonl"), None);
        assert_eq!(of("audit.gzip"), None);
        assert_eq!(of(".gz"), None);
    }

    /// Every prefix that ends at a frame's end decodes to exactly what was
    /// written before that end; the whole, to everything.
    #[test]
    fn every_frame_end_leaves_a_complete_stream() {
        for compression in COMPRESSED {
            let mut writer = FrameWriter::new(Vec::new(), compression).unwrap();
            let mut plain = Vec::new();
            let mut ends = Vec::new();
            for (seed, len) in [(1, 10), (2, 200_000), (3, 1), (4, 70_000)] {
                let piece = text(seed, len);
                // In uneven pieces, as a formatter writes.
                for chunk in piece.chunks(977) {
                    writer.write_all(chunk).unwrap();
                }
                plain.extend_from_slice(&piece);
                writer.flush().unwrap();
                writer.end_frame().unwrap();
                ends.push((writer.get_ref().len(), plain.len()));
            }
            let bytes = writer.into_inner().unwrap();
            assert_eq!(bytes.len(), ends.last().unwrap().0, "{compression}");
            assert!(bytes.len() < plain.len() / 4, "{compression}: compressed");
            for (compressed, written) in ends {
                assert_eq!(
                    decoded(&bytes[..compressed], compression),
                    plain[..written],
                    "{compression}"
                );
            }
        }
    }

    #[test]
    fn ending_a_frame_twice_or_with_nothing_written_adds_nothing() {
        for compression in COMPRESSED {
            let mut writer = FrameWriter::new(Vec::new(), compression).unwrap();
            writer.end_frame().unwrap();
            assert!(writer.get_ref().is_empty());
            writer.write_all(b"one\n").unwrap();
            writer.end_frame().unwrap();
            let len = writer.get_ref().len();
            writer.write_all(b"").unwrap();
            writer.flush().unwrap();
            writer.end_frame().unwrap();
            assert_eq!(writer.get_ref().len(), len, "{compression}");
            let bytes = writer.into_inner().unwrap();
            assert_eq!(bytes.len(), len, "{compression}");
            assert_eq!(decoded(&bytes, compression), b"one\n");
        }
    }

    #[test]
    fn an_output_without_data_is_still_a_stream() {
        for compression in COMPRESSED {
            let bytes = FrameWriter::new(Vec::new(), compression)
                .unwrap()
                .into_inner()
                .unwrap();
            assert!(!bytes.is_empty(), "{compression}");
            assert_eq!(decoded(&bytes, compression), b"");
        }
        let plain = FrameWriter::new(Vec::new(), Compression::None).unwrap();
        assert!(plain.into_inner().unwrap().is_empty());
    }

    #[test]
    fn without_compression_bytes_pass_through() {
        let mut writer = FrameWriter::new(Vec::new(), Compression::None).unwrap();
        writer.write_all(b"as it is\n").unwrap();
        writer.end_frame().unwrap();
        writer.write_all(b"more").unwrap();
        assert_eq!(writer.into_inner().unwrap(), b"as it is\nmore");
    }

    /// A writer underneath that fails once it has taken `room` bytes.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.room {
                return Err(io::Error::other("disk full"));
            }
            self.room -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn after_a_failed_write_the_writer_refuses_to_go_on() {
        for compression in COMPRESSED {
            let mut writer = FrameWriter::new(Full { room: 10 }, compression).unwrap();
            writer.write_all(&text(5, 1000)).unwrap();
            assert!(writer.end_frame().is_err(), "{compression}");
            let again = writer.write_all(b"more").unwrap_err();
            assert!(again.to_string().contains("earlier write"), "{again}");
            assert!(writer.end_frame().is_err());
            assert!(writer.into_inner().is_err());
        }
    }

    /// The command-line tools read concatenated frames whole; skipped where
    /// a tool is not installed.
    #[test]
    fn gzip_and_zstd_tools_read_every_frame() {
        for (compression, tool) in [(Compression::Gzip, "gzip"), (Compression::Zstd, "zstd")] {
            let mut writer = FrameWriter::new(Vec::new(), compression).unwrap();
            let mut plain = Vec::new();
            for seed in 1..=3 {
                let piece = text(seed, 5000);
                writer.write_all(&piece).unwrap();
                writer.end_frame().unwrap();
                plain.extend_from_slice(&piece);
            }
            let bytes = writer.into_inner().unwrap();
            let child = std::process::Command::new(tool)
                .arg("-dc")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn();
            let Ok(mut child) = child else {
                eprintln!("{tool} is not installed: skipped");
                continue;
            };
            let mut stdin = child.stdin.take().unwrap();
            let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
            let output = child.wait_with_output().unwrap();
            feeder.join().unwrap().unwrap();
            assert!(output.status.success(), "{tool}");
            assert_eq!(output.stdout, plain, "{tool}");
        }
    }
}
