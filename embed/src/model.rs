//! The model itself: tokenizer plus BERT weights from a directory, and the forward pass
//! that turns a batch of texts into normalised sentence vectors.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{DIM, Error};

/// Tokens kept of a text: the model was trained on 128-token windows, and incident
/// prose that matters sits in its first sentences.
const MAX_TOKENS: usize = 128;

/// Texts run through the network at once (bounded so one huge batch cannot balloon memory).
const BATCH: usize = 32;

/// A loaded all-MiniLM-L6-v2 (or any BERT sentence model of the same shape).
pub struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, Error> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

impl Model {
    /// Loads the model from `dir` (see [`crate::FILES`]).
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| Error::Model(format!("config.json: {e}")))?;
        if config.hidden_size != DIM {
            return Err(Error::Model(format!(
                "config.json: hidden_size {} is not {DIM}; this is not all-MiniLM-L6-v2",
                config.hidden_size
            )));
        }
        let mut tokenizer = Tokenizer::from_bytes(read(dir, "tokenizer.json")?)
            .map_err(|e| Error::Model(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::Model(format!("tokenizer.json: {e}")))?;
        let weights = read(dir, "model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)?;
        let bert = BertModel::load(vb, &config)?;
        Ok(Self { bert, tokenizer })
    }

    /// One text's vector.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, Error> {
        let mut v = self.embed_batch(&[text])?;
        v.pop()
            .ok_or_else(|| Error::Model("no vector for the text".into()))
    }

    /// The vectors of `texts`, in their order. Identical texts are run once (alerts that
    /// open incidents repeat their wording), and the rest in batches of similar length so
    /// padding wastes little work.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let mut distinct: Vec<&str> = texts.to_vec();
        distinct.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        distinct.dedup();
        let mut vecs: HashMap<&str, Vec<f32>> = HashMap::with_capacity(distinct.len());
        for batch in distinct.chunks(BATCH) {
            vecs.extend(batch.iter().copied().zip(self.forward(batch)?));
        }
        texts
            .iter()
            .map(|t| {
                vecs.get(t)
                    .cloned()
                    .ok_or_else(|| Error::Model("a text got no vector".into()))
            })
            .collect()
    }

    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Model(format!("tokenize: {e}")))?;
        let rows = enc.len();
        let width = enc.first().map_or(0, |e| e.get_ids().len());
        let flat = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            enc.iter().flat_map(|e| f(e).iter().copied()).collect()
        };
        let dev = &self.bert.device;
        let ids = Tensor::from_vec(flat(&|e| e.get_ids()), (rows, width), dev)?;
        let types = Tensor::from_vec(flat(&|e| e.get_type_ids()), (rows, width), dev)?;
        let mask = Tensor::from_vec(flat(&|e| e.get_attention_mask()), (rows, width), dev)?;
        let hidden = self.bert.forward(&ids, &types, Some(&mask))?; // (rows, width, DIM)
        // Mean over the real tokens only, then unit length.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}
