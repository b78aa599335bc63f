package io.spindle.data;

/**
 * The images of an IDX file: {@code count} images of {@code rows x cols} unsigned bytes, row-major,
 * image after image.
 */
public record IdxImages(String source, int count, int rows, int cols, byte[] pixels) {}
