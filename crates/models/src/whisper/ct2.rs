//! Reader for CTranslate2 `model.bin` files (format version 6).
//!
//! The layout, all little-endian: `u32 version`, string spec name, `u32 revision`, `u32 n_vars`,
//! then per variable a string name, `u8 rank`, `u32 dims[rank]`, `u8 dtype`, `u32 n_bytes` and
//! the raw row-major data; then `u32 n_aliases` and (alias, target) string pairs. A string is a
//! `u16` length that counts a trailing NUL, the bytes, and the NUL. Rank-0 variables carry
//! hyper-parameters such as `encoder/num_heads`.
//!
//! Parsing reads the header of every variable and skips its data, keeping where the data is;
//! loading then reads one variable at a time as it converts it. The whole file (145 MB for
//! base) is never in memory next to the converted weights: holding it was a third of the
//! engine's peak memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::ModelError;

/// The only `model.bin` format version this reader has been checked against.
const SUPPORTED_VERSION: u32 = 6;

/// Element type of a stored variable, numbered as CTranslate2 numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ct2DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2DType {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Ct2DType::F32),
            1 => Some(Ct2DType::I8),
            2 => Some(Ct2DType::I16),
            3 => Some(Ct2DType::I32),
            4 => Some(Ct2DType::F16),
            5 => Some(Ct2DType::Bf16),
            _ => None,
        }
    }

    fn size_bytes(self) -> usize {
        match self {
            Ct2DType::I8 => 1,
            Ct2DType::I16 | Ct2DType::F16 | Ct2DType::Bf16 => 2,
            Ct2DType::F32 | Ct2DType::I32 => 4,
        }
    }
}

/// One stored variable: its shape, element type and where its bytes are in the file.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub shape: Vec<usize>,
    pub dtype: Ct2DType,
    bytes: Range<u64>,
    /// The value of a rank-0 integer variable (a hyper-parameter), read while parsing.
    scalar: Option<i64>,
}

/// What a file is read from: a file on disk, or bytes in memory in tests.
trait Source: Read + Seek {}

impl<T: Read + Seek> Source for T {}

/// A parsed `model.bin`: the variables by name, with aliases resolved on lookup.
pub(crate) struct Ct2File {
    path: PathBuf,
    pub spec: String,
    pub revision: u32,
    /// Loading is single-threaded and reads through `&self`.
    source: RefCell<Box<dyn Source>>,
    variables: HashMap<String, Variable>,
    aliases: HashMap<String, String>,
}

impl Ct2File {
    /// Opens and parses the file at `path`; variables are read from it as they are asked for.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`] when it does not exist, [`ModelError::Io`] when it cannot be
    /// read and [`ModelError::InvalidModel`] when it is not a well-formed version-6 file.
    pub fn read(path: &Path) -> Result<Ct2File, ModelError> {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path: path.to_path_buf(),
            });
        }
        let file = std::fs::File::open(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ct2File::parse(Box::new(BufReader::new(file)), path)
    }

    /// Parses the file `source` holds; `path` names it in error messages.
    fn parse(mut source: Box<dyn Source>, path: &Path) -> Result<Ct2File, ModelError> {
        let invalid = |reason: String| ModelError::InvalidModel {
            path: path.to_path_buf(),
            reason,
        };
        let mut cursor = Cursor::new(&mut source).map_err(invalid)?;
        let version = cursor.u32().map_err(invalid)?;
        if version != SUPPORTED_VERSION {
            return Err(invalid(format!(
                "format version {version} is not supported (expected {SUPPORTED_VERSION})"
            )));
        }
        let spec = cursor.string().map_err(invalid)?;
        let revision = cursor.u32().map_err(invalid)?;
        let count = cursor.u32().map_err(invalid)?;
        let mut variables = HashMap::new();
        for _ in 0..count {
            let (name, variable) = cursor.variable().map_err(invalid)?;
            variables.insert(name, variable);
        }
        let alias_count = cursor.u32().map_err(invalid)?;
        let mut aliases = HashMap::new();
        for _ in 0..alias_count {
            let alias = cursor.string().map_err(invalid)?;
            let target = cursor.string().map_err(invalid)?;
            aliases.insert(alias, target);
        }
        Ok(Ct2File {
            path: path.to_path_buf(),
            spec,
            revision,
            source: RefCell::new(source),
            variables,
            aliases,
        })
    }

    /// Number of stored variables (aliases not counted).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.variables.len()
    }

    /// The variable called `name`, following an alias if `name` is one.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.variables.get(name).or_else(|| {
            self.aliases
                .get(name)
                .and_then(|target| self.variables.get(target))
        })
    }

    /// Shape of the variable called `name`.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.get(name).map(|variable| variable.shape.as_slice())
    }

    /// Value of a rank-0 integer variable (a hyper-parameter such as `encoder/num_heads`).
    pub fn scalar(&self, name: &str) -> Option<i64> {
        self.get(name)?.scalar
    }

    /// The stored bytes of `variable`, read from the file.
    fn bytes(&self, name: &str, variable: &Variable) -> Result<Vec<u8>, ModelError> {
        let io = |source| ModelError::Io {
            path: self.path.clone(),
            source,
        };
        let mut source = self.source.borrow_mut();
        source
            .seek(SeekFrom::Start(variable.bytes.start))
            .map_err(io)?;
        let len = usize::try_from(variable.bytes.end - variable.bytes.start)
            .map_err(|_| self.invalid(format!("variable {name} does not fit in memory")))?;
        let mut bytes = vec![0; len];
        source.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    }

    /// The raw f16 values of `name` when it is stored as f16, else `None`: for weights kept in
    /// f16, without widening them to f32 on the way.
    ///
    /// # Errors
    /// [`ModelError::InvalidModel`] when the variable is absent, [`ModelError::Io`] when it
    /// cannot be read.
    pub fn half_bits(&self, name: &str) -> Result<Option<Vec<u16>>, ModelError> {
        let variable = self
            .get(name)
            .ok_or_else(|| self.invalid(format!("missing variable {name}")))?;
        if variable.dtype != Ct2DType::F16 {
            return Ok(None);
        }
        let bytes = self.bytes(name, variable)?;
        Ok(Some(
            bytes
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect(),
        ))
    }

    /// The variable called `name` as an f32 tensor on `device`.
    ///
    /// Half-precision weights are widened; int8/int16 weights are dequantised with the
    /// per-row `<name>_scale` variable CTranslate2 stores beside them (value = q / scale).
    ///
    /// # Errors
    /// [`ModelError::InvalidModel`] when the variable is absent or its quantisation scale is.
    pub fn tensor(&self, name: &str, device: &Device) -> Result<Tensor, ModelError> {
        let variable = self
            .get(name)
            .ok_or_else(|| self.invalid(format!("missing variable {name}")))?;
        let bytes = &self.bytes(name, variable)?;
        let shape = variable.shape.as_slice();
        let tensor =
            match variable.dtype {
                Ct2DType::F32 => Tensor::from_raw_buffer(bytes, DType::F32, shape, device)?,
                Ct2DType::F16 => Tensor::from_raw_buffer(bytes, DType::F16, shape, device)?
                    .to_dtype(DType::F32)?,
                Ct2DType::Bf16 => Tensor::from_raw_buffer(bytes, DType::BF16, shape, device)?
                    .to_dtype(DType::F32)?,
                Ct2DType::I8 | Ct2DType::I16 | Ct2DType::I32 => {
                    let values = integers_as_f32(bytes, variable.dtype);
                    let values = match name.strip_suffix("weight") {
                        Some(prefix) if shape.len() == 2 => {
                            let scales =
                                self.scale_for(&format!("{prefix}weight_scale"), shape[0], device)?;
                            dequantise_rows(values, &scales, shape[1])
                        }
                        _ => values,
                    };
                    Tensor::from_vec(values, shape, device)?
                }
            };
        Ok(tensor)
    }

    fn scale_for(&self, name: &str, rows: usize, device: &Device) -> Result<Vec<f32>, ModelError> {
        let scales = self.tensor(name, device)?.flatten_all()?.to_vec1::<f32>()?;
        match scales.len() {
            n if n == rows => Ok(scales),
            1 => Ok(vec![scales[0]; rows]),
            n => Err(self.invalid(format!("{name} has {n} values for {rows} rows"))),
        }
    }

    /// An [`ModelError::InvalidModel`] naming this file.
    pub fn invalid(&self, reason: String) -> ModelError {
        ModelError::InvalidModel {
            path: self.path.clone(),
            reason,
        }
    }
}

fn integers_as_f32(bytes: &[u8], dtype: Ct2DType) -> Vec<f32> {
    match dtype {
        Ct2DType::I8 => bytes.iter().map(|&b| f32::from(b as i8)).collect(),
        Ct2DType::I16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
    }
}

fn dequantise_rows(mut values: Vec<f32>, scales: &[f32], columns: usize) -> Vec<f32> {
    for (row, scale) in values.chunks_mut(columns.max(1)).zip(scales) {
        for value in row {
            *value /= scale;
        }
    }
    values
}

/// A bounds-checked reader over the file's header fields that skips variables' data;
/// errors are plain reasons, given a path later.
struct Cursor<'a> {
    source: &'a mut dyn Source,
    pos: u64,
    len: u64,
}

impl<'a> Cursor<'a> {
    fn new(source: &'a mut dyn Source) -> Result<Cursor<'a>, String> {
        let len = source
            .seek(SeekFrom::End(0))
            .and_then(|len| source.rewind().map(|()| len))
            .map_err(|err| format!("cannot read the file: {err}"))?;
        Ok(Cursor {
            source,
            pos: 0,
            len,
        })
    }

    /// Where the next `len` bytes are, checked against the file's length.
    fn span(&self, len: usize) -> Result<Range<u64>, String> {
        self.pos
            .checked_add(len as u64)
            .filter(|&end| end <= self.len)
            .map(|end| self.pos..end)
            .ok_or_else(|| format!("file truncated at byte {} (wanted {len} more)", self.pos))
    }

    fn take(&mut self, len: usize) -> Result<Vec<u8>, String> {
        let span = self.span(len)?;
        let mut bytes = vec![0; len];
        self.source
            .read_exact(&mut bytes)
            .map_err(|err| format!("cannot read byte {}: {err}", self.pos))?;
        self.pos = span.end;
        Ok(bytes)
    }

    /// Steps over `len` bytes without reading them, returning where they are.
    fn skip(&mut self, len: usize) -> Result<Range<u64>, String> {
        let span = self.span(len)?;
        self.source
            .seek(SeekFrom::Start(span.end))
            .map_err(|err| format!("cannot seek to byte {}: {err}", span.end))?;
        self.pos = span.end;
        Ok(span)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, String> {
        let len = usize::from(self.u16()?);
        let mut bytes = self.take(len)?;
        if bytes.last() == Some(&0) {
            bytes.pop();
        }
        String::from_utf8(bytes)
            .map_err(|_| format!("string before byte {} is not UTF-8", self.pos))
    }

    fn variable(&mut self) -> Result<(String, Variable), String> {
        let name = self.string()?;
        let rank = self.u8()?;
        let shape = (0..rank)
            .map(|_| self.u32().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let code = self.u8()?;
        let dtype = Ct2DType::from_code(code)
            .ok_or_else(|| format!("variable {name} has unknown dtype {code}"))?;
        let len = self.u32()? as usize;
        let expected = shape.iter().product::<usize>() * dtype.size_bytes();
        if len != expected {
            return Err(format!(
                "variable {name} has {len} bytes, its shape {shape:?} needs {expected}"
            ));
        }
        let (bytes, scalar) = if shape.is_empty() {
            let start = self.pos;
            let value = self.take(len)?;
            (start..self.pos, scalar_value(&value, dtype))
        } else {
            (self.skip(len)?, None)
        };
        Ok((
            name,
            Variable {
                shape,
                dtype,
                bytes,
                scalar,
            },
        ))
    }
}

/// The value of a rank-0 integer variable's bytes; `None` for floating-point ones.
fn scalar_value(bytes: &[u8], dtype: Ct2DType) -> Option<i64> {
    match dtype {
        Ct2DType::I8 => bytes.first().map(|&b| i64::from(b as i8)),
        Ct2DType::I16 => Some(i64::from(i16::from_le_bytes(bytes.try_into().ok()?))),
        Ct2DType::I32 => Some(i64::from(i32::from_le_bytes(bytes.try_into().ok()?))),
        Ct2DType::F32 | Ct2DType::F16 | Ct2DType::Bf16 => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn variable(out: &mut Vec<u8>, name: &str, shape: &[u32], dtype: u8, data: &[u8]) {
        string(out, name);
        out.push(shape.len() as u8);
        for d in shape {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.push(dtype);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }

    fn in_memory(data: Vec<u8>) -> Result<Ct2File, ModelError> {
        Ct2File::parse(Box::new(std::io::Cursor::new(data)), Path::new("test.bin"))
    }

    fn sample_file() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&6u32.to_le_bytes());
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&4u32.to_le_bytes());
        variable(&mut out, "encoder/num_heads", &[], 2, &8i16.to_le_bytes());
        // f16 values 1.0, -2.0 (0x3c00, 0xc000)
        variable(&mut out, "a/weight", &[2], 4, &[0x00, 0x3c, 0x00, 0xc0]);
        variable(&mut out, "q/weight", &[2, 2], 1, &[10, 20, 254, 4]);
        let scales: Vec<u8> = [10.0f32, 2.0]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        variable(&mut out, "q/weight_scale", &[2], 0, &scales);
        out.extend_from_slice(&1u32.to_le_bytes());
        string(&mut out, "b/weight");
        string(&mut out, "a/weight");
        out
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let file = in_memory(sample_file()).unwrap();
        assert_eq!(file.spec, "WhisperSpec");
        assert_eq!(file.revision, 3);
        assert_eq!(file.len(), 4);
        assert_eq!(file.scalar("encoder/num_heads"), Some(8));
        let a = file.tensor("b/weight", &Device::Cpu).unwrap();
        assert_eq!(a.to_vec1::<f32>().unwrap(), vec![1.0, -2.0]);
        assert_eq!(
            file.half_bits("a/weight").unwrap(),
            Some(vec![0x3c00, 0xc000])
        );
        assert_eq!(file.half_bits("q/weight").unwrap(), None);
    }

    #[test]
    fn dequantises_int8_rows_with_their_scale() {
        let file = in_memory(sample_file()).unwrap();
        let q = file.tensor("q/weight", &Device::Cpu).unwrap();
        assert_eq!(
            q.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 2.0], vec![-1.0, 2.0]]
        );
    }

    #[test]
    fn reads_the_real_whisper_files() {
        let tiny = Ct2File::read(
            &crate::whisper::test_support::model_dir("whisper-tiny.en").join("model.bin"),
        )
        .unwrap();
        assert_eq!(tiny.spec, "WhisperSpec");
        assert_eq!(tiny.len(), 148);
        assert_eq!(
            tiny.shape("decoder/embeddings/weight"),
            Some(&[51864, 384][..])
        );
        assert_eq!(
            tiny.shape("decoder/projection/weight"),
            Some(&[51864, 384][..])
        );
        assert_eq!(tiny.shape("encoder/conv1/weight"), Some(&[384, 80, 3][..]));
        assert_eq!(tiny.scalar("encoder/num_heads"), Some(6));

        let base = Ct2File::read(
            &crate::whisper::test_support::model_dir("whisper-base").join("model.bin"),
        )
        .unwrap();
        assert_eq!(base.len(), 212);
        assert_eq!(
            base.shape("decoder/layer_5/self_attention/linear_0/weight"),
            Some(&[1536, 512][..])
        );
        assert_eq!(
            base.shape("decoder/layer_0/attention/linear_1/weight"),
            Some(&[1024, 512][..])
        );
        assert_eq!(base.scalar("decoder/num_heads"), Some(8));
        let conv = base.tensor("encoder/conv1/bias", &Device::Cpu).unwrap();
        assert_eq!(conv.dims(), &[512]);
        assert!(conv.to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn rejects_truncated_files_and_wrong_versions() {
        let mut data = sample_file();
        data.truncate(data.len() - 3);
        assert!(matches!(
            in_memory(data),
            Err(ModelError::InvalidModel { .. })
        ));
        let mut data = sample_file();
        data[0] = 5;
        assert!(matches!(
            in_memory(data),
            Err(ModelError::InvalidModel { .. })
        ));
    }
}
