// Image input: limits, format checks, decoding and model preprocessing.

export { DEFAULT_IMAGE_LIMITS, resolveImageLimits, type ImageLimits } from './limits.ts';
export { SUPPORTED_EXTENSIONS, hasSupportedExtension, sniffFormat, type ImageFamily, type ImageFormat } from './formats.ts';
export { decodeImage, readImageFile, readImageHeader, type DecodedImage, type ImageHeader } from './decode.ts';
export { PreprocessSpecSchema, validatePreprocessSpec, type PreprocessSpec, type ResizeMode, type TensorLayout, type ChannelOrder } from './spec.ts';
export { computeGeometry, planResize, boxToOriginal, type Geometry, type ResizePlan, type Box, type Rect, type Size } from './geometry.ts';
export { pixelsToTensor, toTensorBatch, tensorShape, type TensorShape } from './tensor.ts';
export { loadForModel, preprocessDecoded, type ModelInput, type LoadedModelInput } from './preprocess.ts';
