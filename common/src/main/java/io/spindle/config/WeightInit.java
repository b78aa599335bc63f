package io.spindle.config;

/**
 * Weight initialisation; biases always start at zero.
 *
 * <ul>
 *   <li>Xavier/Glorot: variance 2 / (fanIn + fanOut)
 *   <li>He: variance 2 / fanIn
 *   <li>LeCun: variance 1 / fanIn
 * </ul>
 *
 * Each in a uniform and a normal variant with that variance.
 */
public enum WeightInit implements ConfigEnum {
  XAVIER_UNIFORM,
  XAVIER_NORMAL,
  HE_UNIFORM,
  HE_NORMAL,
  LECUN_UNIFORM,
  LECUN_NORMAL
}
