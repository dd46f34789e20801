//! Reads the tensors of a *legacy* (pre-1.6, non-zip) PyTorch checkpoint such as Resemblyzer's
//! `pretrained.pt`; candle's own `PthTensors` only reads the zip layout.
//!
//! The legacy layout is five pickles in a row (magic number, protocol version, system info, the
//! saved object, the list of storage keys) followed, for each key in that list, by a little-endian
//! `u64` element count and the storage's raw bytes. Tensors are `_rebuild_tensor_v2` calls whose
//! persistent ids name a storage, so several tensors can be views into one storage (cuDNN keeps all
//! LSTM weights in one).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::ModelError;

/// The first pickle of a legacy checkpoint, byte for byte: protocol 2, then the magic number
/// `0x1950a86a20f9469cfc6c` as a 10-byte little-endian long, then STOP. Compared as bytes
/// because the number does not fit the 64-bit longs candle's pickle reader decodes.
const LEGACY_MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// The float tensors of the state dict stored under `key` (`model_state` for Resemblyzer), by
/// name.
///
/// # Errors
/// [`ModelError::Io`] when the file cannot be read, [`ModelError::InvalidModel`] when it is not
/// a legacy torch checkpoint holding such a state dict.
pub(crate) fn read_state_dict(
    path: &Path,
    key: &str,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let invalid = |reason: String| ModelError::InvalidModel {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; LEGACY_MAGIC_PICKLE.len()];
    reader
        .read_exact(&mut magic)
        .map_err(|e| invalid(format!("too short for a torch checkpoint: {e}")))?;
    if magic != LEGACY_MAGIC_PICKLE {
        return Err(invalid(
            "not a legacy torch checkpoint (bad magic number)".into(),
        ));
    }
    // Protocol version, system info, the saved object, the storage keys.
    let mut pickles = Vec::with_capacity(4);
    for _ in 0..4 {
        pickles.push(
            read_pickle(&mut reader).map_err(|e| invalid(format!("unreadable pickle: {e}")))?,
        );
    }
    let storage_keys = pickles.pop();
    let saved = pickles.pop().unwrap_or(Object::None);
    let storage_keys = match storage_keys.unwrap_or(Object::None) {
        Object::List(keys) => keys
            .into_iter()
            .map(|key| {
                key.unicode()
                    .map_err(|_| invalid("a storage key is not a string".into()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(invalid("the storage key list is missing".into())),
    };
    let mut storage_dtypes = HashMap::new();
    collect_storage_dtypes(&saved, &mut storage_dtypes);

    let Object::Dict(entries) = saved else {
        return Err(invalid("the checkpoint is not a dictionary".into()));
    };
    let state = entries
        .into_iter()
        .find(|(name, _)| *name == Object::Unicode(key.to_owned()))
        .map(|(_, value)| value)
        .ok_or_else(|| invalid(format!("no {key:?} in the checkpoint")))?;
    let Object::Dict(state) = state else {
        return Err(invalid(format!("{key:?} is not a dictionary")));
    };
    let mut infos = Vec::new();
    for (name, value) in state {
        if let Some(info) = value
            .into_tensor_info(name, Path::new(""))
            .map_err(|e| invalid(format!("unreadable tensor: {e}")))?
        {
            infos.push(info);
        }
    }

    let mut storages: HashMap<String, Vec<f32>> = HashMap::new();
    for storage_key in &storage_keys {
        let mut count = [0u8; 8];
        reader
            .read_exact(&mut count)
            .map_err(|e| invalid(format!("storage {storage_key} is truncated: {e}")))?;
        let count = usize::try_from(u64::from_le_bytes(count))
            .map_err(|_| invalid(format!("storage {storage_key} is too large")))?;
        let dtype = storage_dtypes
            .get(storage_key)
            .copied()
            .ok_or_else(|| invalid(format!("storage {storage_key} has no known type")))?;
        let mut bytes = vec![0u8; count * dtype.size_in_bytes()];
        reader
            .read_exact(&mut bytes)
            .map_err(|e| invalid(format!("storage {storage_key} is truncated: {e}")))?;
        if dtype == DType::F32 {
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            storages.insert(storage_key.clone(), values);
        }
    }

    let mut tensors = HashMap::new();
    for info in infos {
        let storage_key = info.path.trim_start_matches('/');
        let storage = storages
            .get(storage_key)
            .ok_or_else(|| invalid(format!("tensor {} is not float32", info.name)))?;
        let layout = &info.layout;
        if !layout.is_contiguous() {
            return Err(invalid(format!("tensor {} is not contiguous", info.name)));
        }
        let offset = layout.start_offset() / DType::F32.size_in_bytes();
        let count = layout.shape().elem_count();
        let values = storage
            .get(offset..offset + count)
            .ok_or_else(|| invalid(format!("tensor {} lies outside its storage", info.name)))?;
        let tensor = Tensor::from_slice(values, layout.shape(), &Device::Cpu)?;
        tensors.insert(info.name, tensor);
    }
    Ok(tensors)
}

fn read_pickle<R: BufRead>(reader: &mut R) -> candle_core::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(reader)?;
    stack.finalize()
}

/// Every storage the object refers to, with its element type, so storages that are not read
/// (optimizer state) can still be skipped by size.
fn collect_storage_dtypes(object: &Object, out: &mut HashMap<String, DType>) {
    match object {
        Object::PersistentLoad(id) => {
            if let Object::Tuple(parts) = id.as_ref()
                && let (Some(Object::Class { class_name, .. }), Some(Object::Unicode(key))) =
                    (parts.get(1), parts.get(2))
            {
                let dtype = match class_name.as_str() {
                    "FloatStorage" => Some(DType::F32),
                    "DoubleStorage" => Some(DType::F64),
                    "HalfStorage" => Some(DType::F16),
                    "BFloat16Storage" => Some(DType::BF16),
                    "ByteStorage" | "BoolStorage" | "CharStorage" => Some(DType::U8),
                    "IntStorage" => Some(DType::U32),
                    "LongStorage" => Some(DType::I64),
                    _ => None,
                };
                if let Some(dtype) = dtype {
                    out.insert(key.clone(), dtype);
                }
            }
        }
        Object::Tuple(items) | Object::List(items) => {
            for item in items {
                collect_storage_dtypes(item, out);
            }
        }
        Object::Dict(entries) => {
            for (key, value) in entries {
                collect_storage_dtypes(key, out);
                collect_storage_dtypes(value, out);
            }
        }
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            collect_storage_dtypes(callable, out);
            collect_storage_dtypes(args, out);
        }
        _ => {}
    }
}
