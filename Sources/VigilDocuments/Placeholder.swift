import VigilCore
import CPangoCairo
