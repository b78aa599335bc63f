package io.spindle.data;

import java.io.Serializable;

/**
 * How an executor decodes input splits.
 *
 * @param numClasses labels must lie in {@code [0, numClasses)}
 * @param cifar the CIFAR record layout (null for other formats)
 * @param coarseLabels CIFAR-100: use the coarse labels
 * @param images the image transform (null for other formats)
 * @param skipBadRecords drop undecodable records instead of failing the run
 */
public record ReadOptions(
    int numClasses,
    CifarFormat cifar,
    boolean coarseLabels,
    ImageTransform images,
    boolean skipBadRecords)
    implements Serializable {}
